// The base folder one supervisor owns for one service (see docs/operations.md):
//
//   <identifier>-<version>[.ext]         an artifact dropped in, waiting for intake
//   versions/<version>/<artifact>        taken-in versions
//   versions/<version>/instances/NNNN-<role>/   one folder per start
//   running, testing                     symlinks to the current instance folders
//   archive/<identifier>-<version>.zip   versions nothing runs any more
//   decisions/, state/journal.txtpb      decisions, and the supervisor's crash journal
//
// BaseFolder only names, creates, moves and removes files, all through its Env (paths from
// base-layout/paths.h): it starts no process and decides nothing. Files an operator added are
// never edited, except an artifact being taken in. Moves that change what the base holds (a
// take-in, a role switch, an archive) are made durable by syncing the folder they changed.
// Thread-safety: none; one supervisor loop owns it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base-layout/paths.h"
#include "core/env.h"
#include "core/status.h"
#include "proto/yoke/state.pb.h"

namespace yoke {

// An artifact lying in the base, as seen by one scan.
struct Drop {
  std::filesystem::path path;
  std::string version;
  std::string extension;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

struct ArchiveInfo {
  std::filesystem::path path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

class BaseFolder {
 public:
  // REQUIRES: `env` outlives the BaseFolder.
  BaseFolder(std::filesystem::path root, std::string identifier, Env* env);

  const std::filesystem::path& root() const { return root_; }
  Env& env() const { return *env_; }
  const std::string& identifier() const { return identifier_; }

  // Creates versions/, archive/, decisions/ and state/ when missing, and removes what a crash
  // left (RemoveLeftovers).
  Status Prepare() const;
  // Removes the temporary files of atomic writes and zips (`.<name>.tmp`) in the base, state/,
  // decisions/, archive/ and every instance folder, half fetches (state/fetch/*.part), half
  // restores (state/restore-*) and the trash (state/trash). Returns what it removed.
  std::vector<std::filesystem::path> RemoveLeftovers() const;

  // Artifacts lying at the top of the base, oldest version first. Other files are ignored.
  std::vector<Drop> ScanDrops() const;

  // Moves a settled drop into versions/<version>/ (replacing an artifact of the same name)
  // and, when `make_executable`, adds the execute bits. Returns the artifact's new path.
  StatusOr<std::filesystem::path> TakeIn(const Drop& drop, bool make_executable) const;

  std::filesystem::path VersionDir(const std::string& version) const;
  // Versions with a folder under versions/, oldest first by version order.
  std::vector<std::string> ListVersions() const;
  // The artifact file of a taken-in version: the one regular file at the top of its folder.
  std::optional<std::filesystem::path> ArtifactOf(const std::string& version) const;

  // Creates versions/<version>/instances/NNNN-<role>/ with its artifact link and log folder;
  // NNNN is one more than the highest number the version has used.
  StatusOr<std::filesystem::path> CreateInstanceDir(const std::string& version,
                                                    const std::string& role) const;
  std::vector<std::filesystem::path> ListInstanceDirs(const std::string& version) const;

  // Points the `running` or `testing` link at an instance folder, atomically (rename over).
  Status PointRole(const std::string& role, const std::filesystem::path& instance_dir) const;
  Status ClearRole(const std::string& role) const;
  std::optional<std::filesystem::path> RoleTarget(const std::string& role) const;

  // Zips versions/<version>/ into archive/ and removes the folder. Returns the zip's path.
  StatusOr<std::filesystem::path> ArchiveVersion(const std::string& version) const;
  std::vector<ArchiveInfo> ListArchives() const;  // oldest first
  // The newest archive of `version`, if any.
  std::optional<std::filesystem::path> NewestArchiveOf(const std::string& version) const;
  // Unzips the newest archive of `version` back into versions/<version>/ (for a rollback) and
  // deletes the zip. Fails when the folder exists or no archive holds the version.
  StatusOr<std::filesystem::path> RestoreVersion(const std::string& version,
                                                 bool make_executable) const;

  // The bytes the base holds (regular files, links not followed).
  uint64_t SizeBytes() const;
  // Deletes the oldest archives until the base fits `budget_bytes`, or no archive is left.
  // Versions are never touched. Returns the archives deleted.
  std::vector<std::filesystem::path> EnforceDiskBudget(uint64_t budget_bytes) const;
  // After `deleted_archives` went: removes state/definitions/<version>.txtpb of each version
  // whose archive was among them and which has neither a folder nor another archive left (a
  // rollback to it could not happen any more). A version still on its way in has no archive
  // deleted, so its definition stays. Returns the files removed.
  std::vector<std::filesystem::path> RemoveDefinitionsOf(
      const std::vector<std::filesystem::path>& deleted_archives) const;

  std::filesystem::path JournalPath() const { return base_paths::Journal(root_); }
  std::filesystem::path LogPath() const { return base_paths::Log(root_); }
  std::filesystem::path DecisionsDir() const { return base_paths::DecisionsDir(root_); }

 private:
  std::filesystem::path root_;
  std::string identifier_;
  Env* env_;
};

}  // namespace yoke
