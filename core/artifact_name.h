// Artifact file names: <identifier>-<version>[.ext]. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace yoke {

struct ArtifactName {
  std::string version;
  std::string extension;  // ".jar", ".tar.gz", or empty
};

// Parses a file name dropped in the base. The extension is the last dot-part when it starts
// with a letter (".jar", ".sh"), with ".tar" kept before a compression suffix. Names an
// operator's copy tool leaves while writing (leading '.', trailing "~", ".part", ".tmp",
// ".swp") are never artifacts. Returns nullopt when the name is not an artifact.
std::optional<ArtifactName> ParseArtifactName(std::string_view identifier,
                                              std::string_view file_name);

// A name that becomes one folder of a path (in meta): a project, env, channel, host, service
// or version. Rejects what would escape its folder or confuse git: "", a leading '.', '/',
// '\\' and control characters.
bool IsSafeComponent(std::string_view name);

}  // namespace yoke
