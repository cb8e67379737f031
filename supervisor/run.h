// The composition root: the only code that builds the real objects (the clock, the process
// launcher, the health probe, the proxy, meta's store, the admin server) and hands them to the
// daemon. Each function runs until SIGINT or SIGTERM and returns an exit code of
// supervisor/cli/cli.h.
#pragma once

#include <string>

#include "supervisor/cli/cli.h"

namespace yoke {

// `yoke run`: supervises the service of the config file.
int RunDaemon(const std::string& config_path);

// `yoke proxy`: only the proxy and evidence gathering, in front of services run elsewhere.
int RunProxy(const ProxyArgs& args);

}  // namespace yoke
