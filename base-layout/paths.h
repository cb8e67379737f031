// Every path and file name of the base folder, built and parsed in this one place (LevelDB's
// db/filename.h). docs/operations.md describes each. Pure: builds and parses names, touches no
// file. Thread-safety: free functions.
//
//   <root>/<identifier>-<version>[.ext]        a drop (core/artifact_name.h parses the name)
//   <root>/versions/<version>/<artifact>
//   <root>/versions/<version>/instances/NNNN-<role>/{instance.txtpb,artifact,logs/json/}
//   <root>/running, <root>/testing             links to the current instance folders
//   <root>/archive/<identifier>-<version>[.N].zip
//   <root>/decisions/<UTC>-<from>-to-<to>[.N].txtpb
//   <root>/state/{journal.txtpb,yoke.lock,admin.token,fetch/,restore-<version>/}
//   <root>/meta/                               meta's bare repository
//   <root>/yoke.log
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace yoke::base_paths {

using Path = std::filesystem::path;

Path VersionsDir(const Path& root);
Path VersionDir(const Path& root, std::string_view version);
Path InstancesDir(const Path& root, std::string_view version);
// "0007-testing"; the number is at least four digits.
std::string InstanceDirName(uint32_t number, std::string_view role);
// The NNNN of an instance folder's name, or 0 when the name is not one.
uint32_t InstanceNumber(std::string_view name);
Path InstanceRecord(const Path& instance_dir);  // instance.txtpb
Path InstanceLogDir(const Path& instance_dir);  // logs/json, where the JSON logs go
Path InstanceArtifactLink(const Path& instance_dir);
inline constexpr std::string_view kInstanceRecordName = "instance.txtpb";

Path RoleLink(const Path& root, std::string_view role);
Path RoleLinkStaging(const Path& root, std::string_view role);  // .<role>.new, renamed over

Path ArchiveDir(const Path& root);
// <identifier>-<version>.zip, and <identifier>-<version>.<n>.zip for n >= 2.
std::string ArchiveFileName(std::string_view identifier, std::string_view version, int n = 1);
// n for a file name ArchiveFileName(identifier, version, n) gave, or nullopt. The scheme is
// ambiguous where a version ends in .<n> (hello-1.0.2.zip is 1.0.2, or 1.0 archived twice);
// existing archives keep it.
std::optional<int> ArchiveNumber(std::string_view identifier, std::string_view version,
                                 std::string_view file_name);

Path DecisionsDir(const Path& root);
inline constexpr std::string_view kDecisionSuffix = ".txtpb";
// <UTC stamp>-<from or "none">-to-<to>[.<n>].txtpb; versions cut to 80 characters so the name
// stays well under the 255-byte limit.
std::string DecisionFileName(std::string_view utc_stamp, std::string_view from, std::string_view to,
                             int n = 1);
// The decision id of a file name (the name without .txtpb), or nullopt when it is not a
// decision's file name (a `.tmp`, a hidden file, a name with '/' or "..").
std::optional<std::string> DecisionIdOf(std::string_view file_name);
// True when `id` can only name a file directly inside the decisions folder: not empty, at most
// 255 characters, no '/', '\\', "..", leading '.', or control characters.
bool IsDecisionId(std::string_view id);

Path StateDir(const Path& root);
Path Journal(const Path& root);
Path Lock(const Path& root);
Path AdminToken(const Path& root);
Path FetchDir(const Path& root);
// state/definitions/<version>.txtpb: the effective definition from meta a version's instances
// start with (meta/sync.h writes it before handing the version to the intake).
Path DefinitionsDir(const Path& root);
Path DefinitionFile(const Path& root, std::string_view version);
Path RestoreStaging(const Path& root, std::string_view version);
// Where an archived version folder is moved before it is deleted (state/trash/<version>): a
// crash mid-delete leaves a folder that the next start empties, never a half version folder.
Path Trash(const Path& root, std::string_view version);
Path TrashDir(const Path& root);

Path MetaDir(const Path& root);
Path Log(const Path& root);

}  // namespace yoke::base_paths
