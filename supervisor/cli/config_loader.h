// Loads a config file: protobuf text format, then the checks of core/config_check.h. Every
// problem is reported as `file:line:column: message`, the way compilers do.
// Thread-safety: free function.
#pragma once

#include <filesystem>

#include "core/status.h"
#include "proto/yoke/config.pb.h"

namespace yoke {

// On failure the error holds one line per problem.
StatusOr<Config> LoadConfig(const std::filesystem::path& path);

}  // namespace yoke
