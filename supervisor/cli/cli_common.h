// What the `yoke` subcommands share: the exit codes scripts rely on, loading the config with
// its problems printed as file:line:column, meta's settings with their defaults, where the
// admin token lives, and one HTTP call to the running supervisor's admin API.
// Thread-safety: free functions and constants.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base-layout/base_folder.h"
#include "proto/yoke/config.pb.h"
#include "proto/yoke/state.pb.h"

namespace yoke {

// Exit codes of every `yoke` command (docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a runtime failure
inline constexpr int kExitUsage = 2;    // bad usage or a bad config
inline constexpr int kExitLocked = 3;   // another yoke holds the base

// Loads the config or prints every problem with its file and line to stderr.
std::optional<Config> LoadOrReport(const std::string& path);

// Who is at the keyboard: `given`, else $SUDO_USER, $USER or $LOGNAME, else "operator".
std::string OperatorName(const std::string& given);

// This machine's host name ("localhost" when it cannot be read).
std::string HostName();

// The config's meta settings with the defaults docs/meta.md gives filled in: project is the
// service name and host this machine's host name when the config leaves them empty.
MetaSettings MetaSettingsOf(const Config& config);

// The config's base folder, on the real file system.
BaseFolder BaseOf(const Config& config);

// The admin token file: admin_token_file, or <base>/state/admin.token.
std::filesystem::path TokenPath(const Config& config);

// What became of an instance, from its record and /proc: "alive" (its pid still names the
// process it started as), else how it ended ("exit code 3"), "stopped", or "gone".
std::string InstanceState(const InstanceRecord& record);

// The address a client dials for `admin_listen`: a wildcard (0.0.0.0, ::) becomes loopback.
std::string AdminDialHost(const std::string& listen_host);

// The outcome of one request to the admin API. kUnreachable means nothing accepted the
// connection (refused, or no answer to the connect within the timeout): yoke is not running
// there. kNoAnswer means a connection was made but no whole response came back.
struct AdminCall {
  enum class Outcome { kAnswered, kUnreachable, kNoAnswer };
  Outcome outcome = Outcome::kUnreachable;
  unsigned status = 0;  // when answered
  std::string body;     // when answered
  std::string where;    // "127.0.0.1:8081"
  std::string error;    // when not answered: what the socket said
};

// One HTTP/1.1 request to `admin_listen` (host:port), bounded by `timeout` as a whole. `bearer`
// and `body` are sent when not empty (the body as JSON).
AdminCall CallAdmin(const std::string& admin_listen, std::string_view method,
                    const std::string& target, const std::string& bearer = {},
                    const std::string& body = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace yoke
