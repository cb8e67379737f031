// `yoke upgrade --config F`: an in-place upgrade of the running yoke of that config's base. It
// finds the daemon's pid in the base's lock file (state/yoke.lock, written by the yoke that
// holds the lock), checks that /status names the same pid, sends it SIGUSR2 and waits until the
// admin API answers with a new image (ImageStatus.started_at changes, the pid stays), or reports
// the daemon's own reason when the upgrade failed (ImageStatus.last_upgrade_error).
// Thread-safety: the CLI's one thread.
#pragma once

#include <functional>
#include <optional>

namespace CLI {
class App;
}

namespace yoke {

// Adds `upgrade` to `app`; after app.parse(), the returned function runs it (nullopt when it
// was not the command given).
std::function<std::optional<int>()> AddUpgradeCommand(CLI::App& app);

}  // namespace yoke
