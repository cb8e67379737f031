// FaultEnv: an Env over a real one that fails operations on demand and forgets what was never
// synced, as a crash would (LevelDB's fault_injection_test). Tests walk a sequence of base-folder
// operations with the Nth mutation failing, then check that nothing was lost.
// Thread-safety: one test thread.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/env.h"

namespace yoke::testing {

class FaultEnv : public Env {
 public:
  explicit FaultEnv(Env* real) : real_(real) {}

  // From the nth mutating operation on (counted from 1 since construction), every mutating
  // operation fails with kIo, without touching the disk: a disk that filled up, or a process
  // that died there. 0 turns failures off.
  void FailFrom(int n) { fail_from_ = n; }
  int mutations() const { return mutations_; }
  int failures() const { return failures_; }

  // What a crash now would lose: every rename and new link in a folder that was not synced
  // since is undone, newest first. (Atomic writes and CreateDirs are durable by themselves.)
  void DropUnsynced();

  StatusOr<std::string> ReadFile(const std::filesystem::path& path) override {
    return real_->ReadFile(path);
  }
  Status WriteFileAtomic(const std::filesystem::path& path, std::string_view content,
                         FileMode mode = FileMode::kShared) override;
  StatusOr<FileInfo> Stat(const std::filesystem::path& path) override { return real_->Stat(path); }
  StatusOr<std::vector<std::string>> ListDir(const std::filesystem::path& dir) override {
    return real_->ListDir(dir);
  }
  Status CreateDirs(const std::filesystem::path& dir) override;
  Status Rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status Remove(const std::filesystem::path& path) override;
  Status RemoveAll(const std::filesystem::path& path) override;
  Status Symlink(const std::filesystem::path& target, const std::filesystem::path& link) override;
  StatusOr<std::filesystem::path> ReadLink(const std::filesystem::path& link) override {
    return real_->ReadLink(link);
  }
  Status MakeExecutable(const std::filesystem::path& path) override;
  Status SyncDir(const std::filesystem::path& dir) override;
  Status SyncTree(const std::filesystem::path& path) override;
  // The real free space, or `free_bytes` once SetFreeBytes was called (a filling disk).
  StatusOr<DiskSpace> FreeSpace(const std::filesystem::path& path) override;
  void SetFreeBytes(uint64_t free_bytes, uint64_t total_bytes) {
    fake_space_ = DiskSpace{free_bytes, total_bytes};
  }
  StatusOr<std::unique_ptr<FileLock>> LockFile(const std::filesystem::path& path) override {
    return real_->LockFile(path);
  }

 private:
  // True when this mutation is to fail.
  bool Inject();
  struct Unsynced {
    std::filesystem::path dir;   // the folder whose sync makes it durable
    std::filesystem::path from;  // a rename's source; empty for a new entry
    std::filesystem::path to;
  };

  Env* real_;
  int fail_from_ = 0;
  int mutations_ = 0;
  int failures_ = 0;
  std::vector<Unsynced> unsynced_;
  std::optional<DiskSpace> fake_space_;
};

}  // namespace yoke::testing
