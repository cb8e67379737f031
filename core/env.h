// Env: every file operation on the base folder goes through one of these (LevelDB's pattern).
// The real one is platform/posix_env.h; tests wrap it to fail the Nth operation or to lose what
// was never synced (tests/fakes/fault_env.h). core defines the interface and never touches a
// file itself: paths are plain values here.
//
// Errors carry a code: a missing file or folder is kNotFound, one in the way is kConflict, any
// other refusal of the operating system kIo, so callers branch on the result instead of
// probing first.
// Thread-safety: implementations are thread-safe; callers serialise writes to one path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace yoke {

struct FileInfo {
  enum class Type { kRegular, kDirectory, kSymlink, kOther };
  Type type = Type::kOther;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool is_regular() const { return type == Type::kRegular; }
  bool is_directory() const { return type == Type::kDirectory; }
};

// Who may read a file WriteFileAtomic writes: everyone (0644), or its owner only (0600, from the
// first byte: a secret is never readable by others, not even while it is written).
enum class FileMode { kShared, kPrivate };

// The space on the file system that holds a path.
struct DiskSpace {
  uint64_t available = 0;  // bytes an unprivileged writer may still use
  uint64_t total = 0;
};

// The temporary file WriteFileAtomic writes before its rename: `.<name>.tmp` beside `path`.
// Hidden, so that no listing of a folder (decisions/, or what another tool watches) shows it;
// a leftover of a crash is removed at the next start (BaseFolder::Prepare).
inline std::filesystem::path TempPathFor(const std::filesystem::path& path) {
  return path.parent_path() / ("." + path.filename().string() + ".tmp");
}
inline bool IsTempName(std::string_view name) {
  return name.size() > 5 && name.front() == '.' && name.ends_with(".tmp");
}

// Held for as long as it lives; the lock is released when it is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // Only a regular file (links followed): a FIFO, a device or a folder is kInvalid, at once.
  virtual StatusOr<std::string> ReadFile(const std::filesystem::path& path) = 0;
  // All of `content` or nothing, durably: written to TempPathFor(path) with `mode`, fsynced,
  // renamed over `path`, and the folder fsynced. A crash at any point leaves the old file or
  // the new one; a failure (a full disk) leaves the old one and removes the temporary file.
  virtual Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content,
                                 FileMode mode = FileMode::kShared) = 0;
  // Does not follow a symbolic link: a link is kSymlink.
  virtual StatusOr<FileInfo> Stat(const std::filesystem::path& path) = 0;
  // The names in a folder, sorted; neither "." nor "..".
  virtual StatusOr<std::vector<std::string>> ListDir(const std::filesystem::path& dir) = 0;
  // Creates the folder and any missing parents, durably (each parent of a new folder is
  // synced); an existing folder is fine.
  virtual Status CreateDirs(const std::filesystem::path& dir) = 0;
  // Atomically replaces `to` (a file or link; an empty folder for a folder). Not durable until
  // the folder of `to` is synced.
  virtual Status Rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  // A file, a link or an empty folder. A missing one is kNotFound.
  virtual Status Remove(const std::filesystem::path& path) = 0;
  // A folder and everything in it; a missing one is fine.
  virtual Status RemoveAll(const std::filesystem::path& path) = 0;
  virtual Status Symlink(const std::filesystem::path& target,
                         const std::filesystem::path& link) = 0;
  virtual StatusOr<std::filesystem::path> ReadLink(const std::filesystem::path& link) = 0;
  // Adds the execute bits for owner, group and others.
  virtual Status MakeExecutable(const std::filesystem::path& path) = 0;
  // Makes the folder's entries (creations, renames, removals) durable.
  virtual Status SyncDir(const std::filesystem::path& dir) = 0;
  // Makes a file's content durable (fsync), and every regular file below a folder's.
  virtual Status SyncTree(const std::filesystem::path& path) = 0;
  virtual StatusOr<DiskSpace> FreeSpace(const std::filesystem::path& path) = 0;
  // An exclusive lock on `path` (created when missing) with this process's pid written in it.
  // kConflict when another process holds it.
  virtual StatusOr<std::unique_ptr<FileLock>> LockFile(const std::filesystem::path& path) = 0;
};

}  // namespace yoke
