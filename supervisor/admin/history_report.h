// The status page's history and timeline: GET /status/history (the bounded in-memory series of
// core/status_history.h, sampled by HistorySampler) and GET /decisions (decisions beyond the
// ten /status lists, with each version's release githashes from meta).
// Thread-safety: HistorySampler runs one thread of its own; the free functions are pure.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "core/decision_listing.h"
#include "core/pair_stats.h"
#include "core/status_history.h"
#include "proxy/proxy_stats.h"

namespace yoke {

// How the supervisor keeps its history: a point every kHistoryInterval, kHistoryPoints of them
// (one hour).
inline constexpr std::chrono::seconds kHistoryInterval{2};
inline constexpr size_t kHistoryPoints = 1800;

// The proxy's latency bucket bounds, for a StatusHistory.
std::vector<double> LatencyBounds();

// One reading of the window and the proxy's histograms at `unix_ms`.
HistoryReading HistoryReadingOf(const std::string& candidate, const PairCounts& window,
                                const proxy::ProxyStats& proxy, int64_t unix_ms);

// {"interval_s": 2, "capacity": 1800, "points": [{"t": unix_ms, "candidate", "pairs",
// "pairs_per_s", "running_error_rate", "testing_error_rate", "running_p50_ms", ...}]}; a
// latency nobody measured in the interval is null.
std::string HistoryJson(const StatusHistory& history, std::chrono::seconds interval);

// {"total": N, "decisions": [{"id", "time", "verdict", "from_version", "to_version", "author",
// "reason", "sources": "repo=githash ..." (when meta knows the release)}]}, newest first.
// `sources_of(version)` gives a release's sources, or "" when unknown.
std::string TimelineJson(const DecisionListing& listing,
                         const std::function<std::string(const std::string&)>& sources_of);

// Calls `read` every `interval` on a thread of its own and adds the reading to `history`, from
// construction until destruction (which wakes and joins the thread at once).
class HistorySampler {
 public:
  HistorySampler(StatusHistory* history, std::function<HistoryReading()> read,
                 std::chrono::milliseconds interval);
  ~HistorySampler();
  HistorySampler(const HistorySampler&) = delete;
  HistorySampler& operator=(const HistorySampler&) = delete;

 private:
  std::jthread thread_;
};

}  // namespace yoke
