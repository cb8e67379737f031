// The operator's read-only commands: `yoke status`, `yoke decisions [show ID]` and
// `yoke archive list|show|extract`. Each reads the same --config as `yoke run` and answers
// with the exit codes of supervisor/cli_common.h; the output is laid out by ops_format.h.
// Thread-safety: the CLI's one thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace yoke {

class Config;
class DecisionSource;

// Adds the commands to `app`. After app.parse(), call the returned function: it runs the one
// command given and returns its exit code, or nullopt when none of these was given.
std::function<std::optional<int>()> AddOpsCommands(CLI::App& app);

// Where `yoke decisions` and `yoke status` read decisions from: today <base>/decisions/.
// The one place a `--meta` option will choose a source reading meta instead.
std::unique_ptr<DecisionSource> MakeDecisionSource(const Config& config);

}  // namespace yoke
