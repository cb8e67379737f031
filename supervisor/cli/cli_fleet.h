// `yoke fleet status|decisions` (the fleet view) and `yoke captain [step]` (staged rollouts):
// read every host's records in meta, and move a channel's rollout from stage to stage
// (docs/fleet.md). They work on a meta repository given by --repo (a path, or a URL through a
// cached clone, as `yoke meta`) or a config's <base>/meta.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "supervisor/cli/cli_meta.h"

namespace yoke {

class FleetCommands {
 public:
  // Registers `fleet` and `captain` on `app`.
  explicit FleetCommands(CLI::App& app);
  // After parsing: the exit code of the command given, or nullopt when none was.
  std::optional<int> Run();

 private:
  int Status();
  int Decisions();
  int Captain(bool once);
  // The place's repository; a URL through a cached clone (`owner`: see OpenRemoteCache).
  StatusOr<std::unique_ptr<meta::GitStore>> Open(const MetaPlace& place,
                                                 const std::string& owner = "");

  CLI::App* fleet_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* decisions_ = nullptr;
  CLI::App* captain_ = nullptr;
  CLI::App* captain_step_ = nullptr;

  std::string repo_, config_, project_, env_, channel_, author_;
  std::string release_, host_, verdict_;
  size_t limit_ = 0;
  bool json_ = false;
  unsigned interval_s_ = 30;
  RemoteFlags remote_flags_;
};

}  // namespace yoke
