// What the `yoke` subcommands share: the exit codes scripts rely on, loading the config with
// its problems printed as file:line:column, and where the admin token lives.
// Thread-safety: free functions and constants.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "proto/yoke/config.pb.h"

namespace yoke {

// Exit codes of every `yoke` command (docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a runtime failure
inline constexpr int kExitUsage = 2;    // bad usage or a bad config
inline constexpr int kExitLocked = 3;   // another yoke holds the base

// Loads the config or prints every problem with its file and line to stderr.
std::optional<Config> LoadOrReport(const std::string& path);

// The admin token file: admin_token_file, or <base>/state/admin.token.
std::filesystem::path TokenPath(const Config& config);

}  // namespace yoke
