#include "base-layout/paths.h"

#include <algorithm>
#include <cstdio>

namespace yoke::base_paths {

Path VersionsDir(const Path& root) { return root / "versions"; }
Path VersionDir(const Path& root, std::string_view version) { return VersionsDir(root) / version; }
Path InstancesDir(const Path& root, std::string_view version) {
  return VersionDir(root, version) / "instances";
}

std::string InstanceDirName(uint32_t number, std::string_view role) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04u", number);
  return std::string(buffer) + "-" + std::string(role);
}

uint32_t InstanceNumber(std::string_view name) {
  uint32_t n = 0;
  size_t i = 0;
  for (; i < name.size() && i < 9 && name[i] >= '0' && name[i] <= '9'; ++i) {
    n = n * 10 + static_cast<uint32_t>(name[i] - '0');
  }
  return i > 0 && i < name.size() && name[i] == '-' ? n : 0;
}

Path InstanceRecord(const Path& instance_dir) { return instance_dir / kInstanceRecordName; }
Path InstanceLogDir(const Path& instance_dir) { return instance_dir / "logs" / "json"; }
Path InstanceArtifactLink(const Path& instance_dir) { return instance_dir / "artifact"; }

Path RoleLink(const Path& root, std::string_view role) { return root / role; }
Path RoleLinkStaging(const Path& root, std::string_view role) {
  return root / ("." + std::string(role) + ".new");
}

Path ArchiveDir(const Path& root) { return root / "archive"; }

std::string ArchiveFileName(std::string_view identifier, std::string_view version, int n) {
  std::string name = std::string(identifier) + "-" + std::string(version);
  if (n >= 2) name += "." + std::to_string(n);
  return name + ".zip";
}

std::optional<int> ArchiveNumber(std::string_view identifier, std::string_view version,
                                 std::string_view file_name) {
  const std::string stem = std::string(identifier) + "-" + std::string(version);
  if (!file_name.ends_with(".zip")) return std::nullopt;
  std::string_view middle = file_name.substr(0, file_name.size() - 4);
  if (middle == stem) return 1;
  if (!middle.starts_with(stem + ".")) return std::nullopt;
  std::string_view digits = middle.substr(stem.size() + 1);
  if (digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const int n = std::stoi(std::string(digits));
  return n >= 2 ? std::optional<int>(n) : std::nullopt;
}

Path DecisionsDir(const Path& root) { return root / "decisions"; }

std::string DecisionFileName(std::string_view utc_stamp, std::string_view from, std::string_view to,
                             int n) {
  auto shorten = [](std::string_view v) { return std::string(v.substr(0, 80)); };
  std::string name =
      std::string(utc_stamp) + "-" + (from.empty() ? "none" : shorten(from)) + "-to-" + shorten(to);
  if (n >= 2) name += "." + std::to_string(n);
  return name + std::string(kDecisionSuffix);
}

bool IsDecisionId(std::string_view id) {
  if (id.empty() || id.size() > 255 || id.front() == '.') return false;
  if (id.find("..") != std::string_view::npos) return false;
  return std::none_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return c == '/' || c == '\\' || u < 0x20 || u == 0x7f;
  });
}

std::optional<std::string> DecisionIdOf(std::string_view file_name) {
  if (!file_name.ends_with(kDecisionSuffix)) return std::nullopt;
  std::string_view id = file_name.substr(0, file_name.size() - kDecisionSuffix.size());
  if (!IsDecisionId(id)) return std::nullopt;
  return std::string(id);
}

Path StateDir(const Path& root) { return root / "state"; }
Path Journal(const Path& root) { return StateDir(root) / "journal.txtpb"; }
Path Lock(const Path& root) { return StateDir(root) / "yoke.lock"; }
Path AdminToken(const Path& root) { return StateDir(root) / "admin.token"; }
Path FetchDir(const Path& root) { return StateDir(root) / "fetch"; }
Path DefinitionsDir(const Path& root) { return StateDir(root) / "definitions"; }
Path DefinitionFile(const Path& root, std::string_view version) {
  return DefinitionsDir(root) / (std::string(version) + ".txtpb");
}
Path RestoreStaging(const Path& root, std::string_view version) {
  return StateDir(root) / ("restore-" + std::string(version));
}
Path TrashDir(const Path& root) { return StateDir(root) / "trash"; }
Path Trash(const Path& root, std::string_view version) {
  return TrashDir(root) / std::string(version);
}

Path MetaDir(const Path& root) { return root / "meta"; }
Path Log(const Path& root) { return root / "yoke.log"; }

}  // namespace yoke::base_paths
