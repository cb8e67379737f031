// The operator's read-only commands: `yoke status`, `yoke decisions [show ID] [--meta]` and
// `yoke archive list|show|extract`. Each reads the same --config as `yoke run` and answers
// with the exit codes of supervisor/cli_common.h; the output is laid out by ops_format.h.
// Thread-safety: the CLI's one thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "supervisor/cli/ops_format.h"

namespace CLI {
class App;
}

namespace yoke {

class BaseFolder;
class Config;
class DecisionSource;

// The archives of the base, newest first, with the version each holds. An archive that cannot
// be read is listed with its version taken from its file name, and reported on stderr.
std::vector<ArchiveRow> ArchiveRows(const BaseFolder& base);

// Adds the commands to `app`. After app.parse(), call the returned function: it runs the one
// command given and returns its exit code, or nullopt when none of these was given.
std::function<std::optional<int>()> AddOpsCommands(CLI::App& app);

// Which records `yoke decisions` reads: by default <base>/decisions/; with `meta`, this host's
// decisions in meta, read from `repo` (empty: <base>/meta, the supervisor's own copy) for the
// config's project, env and service and for `host` (empty: the config's meta.host, else this
// machine's host name).
struct DecisionSourceChoice {
  bool meta = false;
  std::string repo;
  std::string host;
};

// The one place a source is chosen and built. Fails when meta's repository cannot be opened.
StatusOr<std::unique_ptr<DecisionSource>> MakeDecisionSource(
    const Config& config, const DecisionSourceChoice& choice = {});

}  // namespace yoke
