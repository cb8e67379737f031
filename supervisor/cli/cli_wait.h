// `yoke wait [NAME] [--config F] [--version V] --timeout 10m`: blocks until the candidate is
// decided, for CI pipelines and scripts (like `kubectl argo rollouts status`). Exit 0 when it
// was promoted and runs, 10 when it was rejected (or superseded), 11 at the timeout; 2 on bad
// usage. It reads /status (what is under test) and <base>/decisions/ (the verdict), once a
// second; an admin API that does not answer is waited for like anything else.
// Thread-safety: the CLI's one thread.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/decision_listing.h"

namespace CLI {
class App;
}

namespace yoke {

inline constexpr int kExitWaitPromoted = 0;
inline constexpr int kExitWaitRejected = 10;
inline constexpr int kExitWaitTimeout = 11;

// The decision that settles `version`: the newest PROMOTE, REJECT or SUPERSEDE of it whose id
// is not in `stale` (decisions already there when the wait began with the version under test).
// Pure, so tests call it directly.
const DecisionEntry* SettlingDecision(const DecisionListing& listing, const std::string& version,
                                      const std::set<std::string>& stale);

// Adds `wait` to `app`; after app.parse(), the returned function runs it (nullopt when it was
// not the command given).
std::function<std::optional<int>()> AddWaitCommand(CLI::App& app);

}  // namespace yoke
