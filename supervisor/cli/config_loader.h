// Loads a config file: protobuf text format, then the checks of core/config_check.h. Every
// problem is reported as `file:line:column: message`, the way compilers do.
// Thread-safety: free function.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/yoke/config.pb.h"

namespace yoke {

// On failure the error holds one line per problem, every problem of the file in line order:
// syntax errors, unknown fields (with the nearest known field name), then the rule checks.
StatusOr<Config> LoadConfig(const std::filesystem::path& path);

// What is allowed but likely a mistake, one "file: warning: ..." line each: judge.min_pairs
// below the pairs a clean pass needs at the configured margins and confidence
// (core/clean_pass.h), since the judge cannot promote before those anyway.
std::vector<std::string> ConfigWarnings(const std::filesystem::path& path, const Config& config);

}  // namespace yoke
