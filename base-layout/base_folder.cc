#include "base-layout/base_folder.h"

#include <algorithm>

#include "base-layout/archive.h"
#include "base-layout/secret_files.h"
#include "core/artifact_name.h"
#include "core/version.h"

namespace yoke {
namespace fs = std::filesystem;
namespace paths = base_paths;

BaseFolder::BaseFolder(fs::path root, std::string identifier, Env* env)
    : root_(std::move(root)), identifier_(std::move(identifier)), env_(env) {}

Status BaseFolder::Prepare() const {
  for (const fs::path& dir : {paths::VersionsDir(root_), paths::ArchiveDir(root_),
                              paths::DecisionsDir(root_), paths::StateDir(root_)}) {
    YOKE_RETURN_IF_ERROR(env_->CreateDirs(dir));
  }
  RemoveLeftovers();
  return Ok();
}

std::vector<fs::path> BaseFolder::RemoveLeftovers() const {
  std::vector<fs::path> removed;
  auto remove = [&](const fs::path& path) {
    if (env_->RemoveAll(path)) removed.push_back(path);
  };
  // What a crash can leave: WriteFileAtomic's and the zip's temporary files, a version folder
  // on its way out, a half restore, a half fetch.
  std::vector<fs::path> dirs = {root_, paths::StateDir(root_), paths::DecisionsDir(root_),
                                paths::ArchiveDir(root_), paths::FetchDir(root_)};
  for (const std::string& version : ListVersions()) {
    for (const fs::path& instance : ListInstanceDirs(version)) dirs.push_back(instance);
  }
  for (const fs::path& dir : dirs) {
    auto names = env_->ListDir(dir);
    if (!names) continue;
    for (const std::string& name : *names) {
      if (IsTempName(name) || (dir == paths::FetchDir(root_) && name.ends_with(".part")) ||
          (dir == paths::StateDir(root_) && name.starts_with("restore-"))) {
        remove(dir / name);
      }
    }
  }
  if (env_->Stat(paths::TrashDir(root_))) remove(paths::TrashDir(root_));
  return removed;
}

std::vector<Drop> BaseFolder::ScanDrops() const {
  std::vector<Drop> drops;
  auto names = env_->ListDir(root_);
  if (!names) return drops;
  for (const std::string& name : *names) {
    auto parsed = ParseArtifactName(identifier_, name);
    if (!parsed) continue;
    // Not followed: a symlink dropped in is not an artifact we can move safely.
    auto info = env_->Stat(root_ / name);
    if (!info || !info->is_regular()) continue;
    drops.push_back({root_ / name, parsed->version, parsed->extension, info->size, info->mtime_ns});
  }
  // Oldest version first, so that when several settle together the newest ends as candidate.
  std::sort(drops.begin(), drops.end(), [](const Drop& a, const Drop& b) {
    int order = CompareVersions(a.version, b.version);
    return order != 0 ? order < 0 : a.path < b.path;
  });
  return drops;
}

StatusOr<fs::path> BaseFolder::TakeIn(const Drop& drop, bool make_executable) const {
  fs::path dir = VersionDir(drop.version);
  YOKE_RETURN_IF_ERROR(env_->CreateDirs(paths::InstancesDir(root_, drop.version)));
  fs::path target = dir / drop.path.filename();
  // Any older artifact file of this version goes: one artifact per version folder.
  if (auto old = ArtifactOf(drop.version); old && *old != target) (void)env_->Remove(*old);
  YOKE_RETURN_IF_ERROR(env_->Rename(drop.path, target));
  if (make_executable) YOKE_RETURN_IF_ERROR(env_->MakeExecutable(target));
  YOKE_RETURN_IF_ERROR(env_->SyncDir(dir));
  YOKE_RETURN_IF_ERROR(env_->SyncDir(root_));
  return target;
}

fs::path BaseFolder::VersionDir(const std::string& version) const {
  return paths::VersionDir(root_, version);
}

std::vector<std::string> BaseFolder::ListVersions() const {
  std::vector<std::string> versions;
  auto names = env_->ListDir(paths::VersionsDir(root_));
  if (!names) return versions;
  for (const std::string& name : *names) {
    auto info = env_->Stat(paths::VersionDir(root_, name));
    if (info && info->is_directory()) versions.push_back(name);
  }
  std::sort(versions.begin(), versions.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) < 0; });
  return versions;
}

std::optional<fs::path> BaseFolder::ArtifactOf(const std::string& version) const {
  fs::path dir = VersionDir(version);
  auto names = env_->ListDir(dir);
  if (!names) return std::nullopt;
  for (const std::string& name : *names) {
    auto info = env_->Stat(dir / name);
    if (info && info->is_regular()) return dir / name;
  }
  return std::nullopt;
}

StatusOr<fs::path> BaseFolder::CreateInstanceDir(const std::string& version,
                                                 const std::string& role) const {
  auto artifact = ArtifactOf(version);
  if (!artifact) {
    return NotFound("version " + version + " has no artifact in " + VersionDir(version).string());
  }
  uint32_t highest = 0;
  for (const auto& dir : ListInstanceDirs(version)) {
    highest = std::max(highest, paths::InstanceNumber(dir.filename().string()));
  }
  fs::path dir = paths::InstancesDir(root_, version) / paths::InstanceDirName(highest + 1, role);
  YOKE_RETURN_IF_ERROR(env_->CreateDirs(paths::InstanceLogDir(dir)));
  YOKE_RETURN_IF_ERROR(
      env_->Symlink(fs::path("../..") / artifact->filename(), paths::InstanceArtifactLink(dir)));
  YOKE_RETURN_IF_ERROR(env_->SyncDir(dir));
  return dir;
}

std::vector<fs::path> BaseFolder::ListInstanceDirs(const std::string& version) const {
  std::vector<fs::path> dirs;
  fs::path parent = paths::InstancesDir(root_, version);
  auto names = env_->ListDir(parent);
  if (!names) return dirs;
  for (const std::string& name : *names) {
    if (paths::InstanceNumber(name) == 0) continue;
    auto info = env_->Stat(parent / name);
    if (info && info->is_directory()) dirs.push_back(parent / name);
  }
  return dirs;  // ListDir sorts by name, and the names start with the number
}

Status BaseFolder::PointRole(const std::string& role, const fs::path& instance_dir) const {
  fs::path link = paths::RoleLink(root_, role);
  fs::path staging = paths::RoleLinkStaging(root_, role);
  (void)env_->Remove(staging);
  YOKE_RETURN_IF_ERROR(env_->Symlink(instance_dir.lexically_relative(root_), staging));
  YOKE_RETURN_IF_ERROR(env_->Rename(staging, link));
  return env_->SyncDir(root_);
}

Status BaseFolder::ClearRole(const std::string& role) const {
  Status removed = env_->Remove(paths::RoleLink(root_, role));
  if (!removed && !removed.error().is(ErrorCode::kNotFound)) return removed;
  return env_->SyncDir(root_);
}

std::optional<fs::path> BaseFolder::RoleTarget(const std::string& role) const {
  auto target = env_->ReadLink(paths::RoleLink(root_, role));
  if (!target) return std::nullopt;
  return root_ / *target;
}

StatusOr<fs::path> BaseFolder::ArchiveVersion(const std::string& version) const {
  fs::path dir = VersionDir(version);
  auto info = env_->Stat(dir);
  if (!info && !info.error().is(ErrorCode::kNotFound)) return std::unexpected(info.error());
  if (!info || !info->is_directory()) return NotFound("no version folder " + dir.string());
  fs::path zip;
  for (int n = 1;; ++n) {
    if (n > 9999) return Conflict("too many archives of version " + version);
    zip = paths::ArchiveDir(root_) / paths::ArchiveFileName(identifier_, version, n);
    auto existing = env_->Stat(zip);
    if (existing) continue;
    if (existing.error().is(ErrorCode::kNotFound)) break;
    return std::unexpected(existing.error());
  }
  // libarchive writes the zip itself (to a temporary name it renames); the folder goes only
  // once the zip is whole and synced.
  // No secret's plaintext goes into an archive (base-layout/secret_files.h).
  YOKE_RETURN_IF_ERROR(ShredSecretFiles(dir));
  YOKE_RETURN_IF_ERROR(ZipFolder(dir, version, zip));
  YOKE_RETURN_IF_ERROR(env_->SyncDir(paths::ArchiveDir(root_)));
  // Out of versions/ in one rename, then deleted: a crash leaves the whole folder or none in
  // versions/, and the trash is emptied at the next start.
  const fs::path trash = paths::Trash(root_, version);
  (void)env_->RemoveAll(trash);
  Status moved = env_->CreateDirs(paths::TrashDir(root_));
  if (moved) moved = env_->Rename(dir, trash);
  if (moved) moved = env_->SyncDir(paths::VersionsDir(root_));
  if (!moved) return Fail("archived " + zip.string() + " but " + moved.error().message());
  (void)env_->RemoveAll(trash);
  return zip;
}

std::optional<fs::path> BaseFolder::NewestArchiveOf(const std::string& version) const {
  std::optional<fs::path> newest;
  for (const ArchiveInfo& archive : ListArchives()) {  // oldest first
    if (paths::ArchiveNumber(identifier_, version, archive.path.filename().string())) {
      newest = archive.path;
    }
  }
  return newest;
}

StatusOr<fs::path> BaseFolder::RestoreVersion(const std::string& version,
                                              bool make_executable) const {
  fs::path dir = VersionDir(version);
  if (env_->Stat(dir)) return Conflict("version folder " + dir.string() + " exists already");
  std::optional<fs::path> zip = NewestArchiveOf(version);
  if (!zip) {
    return NotFound("no archive of version " + version + " in " +
                    paths::ArchiveDir(root_).string());
  }
  fs::path staging = paths::RestoreStaging(root_, version);
  (void)env_->RemoveAll(staging);
  auto unzipped = UnzipTo(*zip, staging);
  // The files reach the disk before the folder takes its name, and before the zip goes.
  Status synced = unzipped ? env_->SyncTree(staging) : Status(std::unexpected(unzipped.error()));
  if (!synced) {
    (void)env_->RemoveAll(staging);
    return Fail("cannot restore " + zip->string() + ": " + synced.error().message());
  }
  YOKE_RETURN_IF_ERROR(env_->CreateDirs(paths::VersionsDir(root_)));
  Status moved = env_->Rename(staging / version, dir);
  (void)env_->RemoveAll(staging);
  if (!moved) return Fail("cannot restore " + dir.string() + ": " + moved.error().message());
  YOKE_RETURN_IF_ERROR(env_->SyncDir(paths::VersionsDir(root_)));
  if (auto artifact = ArtifactOf(version); !artifact) {
    return Invalid("archive " + zip->string() + " holds no artifact for " + version);
  } else if (make_executable) {
    YOKE_RETURN_IF_ERROR(env_->MakeExecutable(*artifact));
  }
  // The folder holds everything the zip did.
  if (env_->Remove(*zip)) (void)env_->SyncDir(paths::ArchiveDir(root_));
  return dir;
}

std::vector<ArchiveInfo> BaseFolder::ListArchives() const {
  std::vector<ArchiveInfo> archives;
  fs::path dir = paths::ArchiveDir(root_);
  auto names = env_->ListDir(dir);
  if (!names) return archives;
  for (const std::string& name : *names) {
    if (!name.ends_with(".zip")) continue;
    auto info = env_->Stat(dir / name);
    if (!info || !info->is_regular()) continue;
    archives.push_back({dir / name, info->size, info->mtime_ns});
  }
  std::sort(archives.begin(), archives.end(), [](const ArchiveInfo& a, const ArchiveInfo& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.path < b.path;
  });
  return archives;
}

namespace {

// Regular files only; links are not followed. Bounded in depth against a pathological tree.
uint64_t SizeOf(Env& env, const fs::path& path, int depth) {
  auto info = env.Stat(path);
  if (!info) return 0;
  if (info->is_regular()) return info->size;
  if (!info->is_directory() || depth > 64) return 0;
  uint64_t total = 0;
  auto names = env.ListDir(path);
  if (!names) return 0;
  for (const std::string& name : *names) total += SizeOf(env, path / name, depth + 1);
  return total;
}

}  // namespace

uint64_t BaseFolder::SizeBytes() const { return SizeOf(*env_, root_, 0); }

std::vector<fs::path> BaseFolder::EnforceDiskBudget(uint64_t budget_bytes) const {
  std::vector<fs::path> deleted;
  uint64_t size = SizeBytes();
  for (const ArchiveInfo& archive : ListArchives()) {
    if (size <= budget_bytes) break;
    if (env_->Remove(archive.path)) {
      size -= std::min(size, archive.size);
      deleted.push_back(archive.path);
    }
  }
  return deleted;
}

std::vector<fs::path> BaseFolder::RemoveDefinitionsOf(
    const std::vector<fs::path>& deleted_archives) const {
  std::vector<fs::path> removed;
  if (deleted_archives.empty()) return removed;
  const fs::path dir = paths::DefinitionsDir(root_);
  auto names = env_->ListDir(dir);
  if (!names) return removed;
  constexpr std::string_view kSuffix = ".txtpb";
  for (const std::string& name : *names) {
    if (!name.ends_with(kSuffix) || name.size() == kSuffix.size()) continue;
    const std::string version = name.substr(0, name.size() - kSuffix.size());
    const bool archive_deleted =
        std::any_of(deleted_archives.begin(), deleted_archives.end(), [&](const fs::path& zip) {
          return paths::ArchiveNumber(identifier_, version, zip.filename().string()).has_value();
        });
    if (!archive_deleted || env_->Stat(VersionDir(version)) || NewestArchiveOf(version)) continue;
    if (env_->Remove(dir / name)) removed.push_back(dir / name);
  }
  return removed;
}

}  // namespace yoke
