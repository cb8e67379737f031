#include "base-layout/base_folder.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "base-layout/archive.h"
#include "core/artifact_name.h"
#include "core/version.h"

namespace yoke {
namespace fs = std::filesystem;

namespace {

int64_t MtimeNs(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string InstanceName(uint32_t number, const std::string& role) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04u", number);
  return std::string(buffer) + "-" + role;
}

// The NNNN of an instance folder name, or 0.
uint32_t InstanceNumber(const std::string& name) {
  uint32_t n = 0;
  size_t i = 0;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) n = n * 10 + (name[i] - '0');
  return i > 0 && i < name.size() && name[i] == '-' ? n : 0;
}

}  // namespace

BaseFolder::BaseFolder(fs::path root, std::string identifier)
    : root_(std::move(root)), identifier_(std::move(identifier)) {}

Status BaseFolder::Prepare() const {
  for (const char* sub : {"versions", "archive", "decisions", "state"}) {
    std::error_code ec;
    fs::create_directories(root_ / sub, ec);
    if (ec) return Fail("cannot create " + (root_ / sub).string() + ": " + ec.message());
  }
  return Ok();
}

std::vector<Drop> BaseFolder::ScanDrops() const {
  std::vector<Drop> drops;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    std::string name = entry.path().filename().string();
    auto parsed = ParseArtifactName(identifier_, name);
    if (!parsed) continue;
    struct stat st;
    // lstat: a symlink dropped in is not an artifact we can move safely.
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    drops.push_back({entry.path(), parsed->version, parsed->extension,
                     static_cast<uint64_t>(st.st_size), MtimeNs(st)});
  }
  // Oldest version first, so that when several settle together the newest ends as candidate.
  std::sort(drops.begin(), drops.end(), [](const Drop& a, const Drop& b) {
    int order = CompareVersions(a.version, b.version);
    return order != 0 ? order < 0 : a.path < b.path;
  });
  return drops;
}

namespace {

Status MakeExecutable(const fs::path& file) {
  std::error_code ec;
  fs::permissions(file, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add, ec);
  if (ec) return Fail("cannot make " + file.string() + " executable: " + ec.message());
  return Ok();
}

}  // namespace

StatusOr<fs::path> BaseFolder::TakeIn(const Drop& drop, bool make_executable) const {
  fs::path dir = VersionDir(drop.version);
  std::error_code ec;
  fs::create_directories(dir / "instances", ec);
  if (ec) return Fail("cannot create " + dir.string() + ": " + ec.message());
  fs::path target = dir / drop.path.filename();
  // Any older artifact file of this version goes: one artifact per version folder.
  if (auto old = ArtifactOf(drop.version); old && *old != target) fs::remove(*old, ec);
  fs::rename(drop.path, target, ec);
  if (ec)
    return Fail("cannot move " + drop.path.string() + " to " + target.string() + ": " +
                ec.message());
  if (make_executable) YOKE_RETURN_IF_ERROR(MakeExecutable(target));
  return target;
}

fs::path BaseFolder::VersionDir(const std::string& version) const {
  return root_ / "versions" / version;
}

std::vector<std::string> BaseFolder::ListVersions() const {
  std::vector<std::string> versions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "versions", ec)) {
    if (entry.is_directory(ec)) versions.push_back(entry.path().filename().string());
  }
  std::sort(versions.begin(), versions.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) < 0; });
  return versions;
}

std::optional<fs::path> BaseFolder::ArtifactOf(const std::string& version) const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(VersionDir(version), ec)) {
    if (entry.is_regular_file(ec) && !entry.is_symlink(ec)) return entry.path();
  }
  return std::nullopt;
}

StatusOr<fs::path> BaseFolder::CreateInstanceDir(const std::string& version,
                                                 const std::string& role) const {
  auto artifact = ArtifactOf(version);
  if (!artifact)
    return Fail("version " + version + " has no artifact in " + VersionDir(version).string());
  uint32_t highest = 0;
  for (const auto& dir : ListInstanceDirs(version)) {
    highest = std::max(highest, InstanceNumber(dir.filename().string()));
  }
  fs::path dir = VersionDir(version) / "instances" / InstanceName(highest + 1, role);
  std::error_code ec;
  fs::create_directories(dir / "logs" / "json", ec);
  if (ec) return Fail("cannot create " + dir.string() + ": " + ec.message());
  fs::create_symlink(fs::path("../..") / artifact->filename(), dir / "artifact", ec);
  if (ec) return Fail("cannot link artifact in " + dir.string() + ": " + ec.message());
  return dir;
}

std::vector<fs::path> BaseFolder::ListInstanceDirs(const std::string& version) const {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(VersionDir(version) / "instances", ec)) {
    if (entry.is_directory(ec) && InstanceNumber(entry.path().filename().string()) > 0) {
      dirs.push_back(entry.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

Status BaseFolder::PointRole(const std::string& role, const fs::path& instance_dir) const {
  fs::path link = root_ / role;
  fs::path tmp = root_ / ("." + role + ".new");
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(instance_dir.lexically_relative(root_), tmp, ec);
  if (ec) return Fail("cannot create link " + tmp.string() + ": " + ec.message());
  fs::rename(tmp, link, ec);
  if (ec) return Fail("cannot switch link " + link.string() + ": " + ec.message());
  return Ok();
}

Status BaseFolder::ClearRole(const std::string& role) const {
  std::error_code ec;
  fs::remove(root_ / role, ec);
  if (ec) return Fail("cannot remove link " + (root_ / role).string() + ": " + ec.message());
  return Ok();
}

std::optional<fs::path> BaseFolder::RoleTarget(const std::string& role) const {
  std::error_code ec;
  fs::path target = fs::read_symlink(root_ / role, ec);
  if (ec) return std::nullopt;
  return root_ / target;
}

StatusOr<fs::path> BaseFolder::ArchiveVersion(const std::string& version) const {
  fs::path dir = VersionDir(version);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Fail("no version folder " + dir.string());
  std::string stem = identifier_ + "-" + version;
  fs::path zip = root_ / "archive" / (stem + ".zip");
  for (int n = 2; fs::exists(zip, ec); ++n) {
    zip = root_ / "archive" / (stem + "." + std::to_string(n) + ".zip");
  }
  YOKE_RETURN_IF_ERROR(ZipFolder(dir, version, zip));
  fs::remove_all(dir, ec);
  if (ec)
    return Fail("archived " + zip.string() + " but cannot remove " + dir.string() + ": " +
                ec.message());
  return zip;
}

std::optional<fs::path> BaseFolder::NewestArchiveOf(const std::string& version) const {
  // <identifier>-<version>.zip, or .<n>.zip for a version archived again.
  const std::string stem = identifier_ + "-" + version;
  std::optional<fs::path> newest;
  for (const ArchiveInfo& archive : ListArchives()) {  // oldest first
    std::string name = archive.path.filename().string();
    std::string middle = name.substr(0, name.size() - 4);  // without ".zip"
    if (middle == stem ||
        (middle.starts_with(stem + ".") &&
         middle.find_first_not_of("0123456789", stem.size() + 1) == std::string::npos)) {
      newest = archive.path;
    }
  }
  return newest;
}

StatusOr<fs::path> BaseFolder::RestoreVersion(const std::string& version,
                                              bool make_executable) const {
  fs::path dir = VersionDir(version);
  std::error_code ec;
  if (fs::exists(dir, ec)) return Fail("version folder " + dir.string() + " exists already");
  std::optional<fs::path> zip = NewestArchiveOf(version);
  if (!zip) return Fail("no archive of version " + version + " in " + (root_ / "archive").string());
  fs::path staging = root_ / "state" / ("restore-" + version);
  fs::remove_all(staging, ec);
  auto unzipped = UnzipTo(*zip, staging);
  if (!unzipped) {
    fs::remove_all(staging, ec);
    return Fail("cannot restore " + zip->string() + ": " + unzipped.error().message());
  }
  fs::create_directories(dir.parent_path(), ec);
  fs::rename(staging / version, dir, ec);
  fs::remove_all(staging);
  if (ec) return Fail("cannot restore " + dir.string() + ": " + ec.message());
  if (auto artifact = ArtifactOf(version); !artifact) {
    return Fail("archive " + zip->string() + " holds no artifact for " + version);
  } else if (make_executable) {
    YOKE_RETURN_IF_ERROR(MakeExecutable(*artifact));
  }
  fs::remove(*zip, ec);  // the folder holds everything the zip did
  return dir;
}

std::vector<ArchiveInfo> BaseFolder::ListArchives() const {
  std::vector<ArchiveInfo> archives;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "archive", ec)) {
    if (entry.path().extension() != ".zip") continue;
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    archives.push_back({entry.path(), static_cast<uint64_t>(st.st_size), MtimeNs(st)});
  }
  std::sort(archives.begin(), archives.end(), [](const ArchiveInfo& a, const ArchiveInfo& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.path < b.path;
  });
  return archives;
}

uint64_t BaseFolder::SizeBytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_size);
    }
  }
  return total;
}

std::vector<fs::path> BaseFolder::EnforceDiskBudget(uint64_t budget_bytes) const {
  std::vector<fs::path> deleted;
  uint64_t size = SizeBytes();
  for (const ArchiveInfo& archive : ListArchives()) {
    if (size <= budget_bytes) break;
    std::error_code ec;
    if (fs::remove(archive.path, ec)) {
      size -= std::min(size, archive.size);
      deleted.push_back(archive.path);
    }
  }
  return deleted;
}

}  // namespace yoke
