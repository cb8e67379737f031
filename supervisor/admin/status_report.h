// What /status and /metrics say: the supervisor's view (roles, instances, counters, the judge's
// reading), the proxy's counters, the evidence window and the newest decisions, rendered as
// JSON (a StatusReport, proto/yoke/status.proto) and as Prometheus text (core/prometheus.h).
// The status page (status_page.html) and `yoke status` read the JSON.
// Pure functions of the snapshots passed in; thread-safety: free functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base-layout/decision_log.h"
#include "core/pair_stats.h"
#include "core/upstream.h"
#include "meta/sync.h"
#include "platform/process_metrics.h"
#include "proto/yoke/status.pb.h"
#include "proxy/proxy_stats.h"
#include "supervisor/daemon/supervisor.h"

namespace yoke {

struct StatusInputs {
  std::string service;
  std::chrono::seconds uptime{0};
  std::optional<StatusReport> supervisor;  // Supervisor::Snapshot; absent under `yoke proxy`
  UpstreamSnapshot upstreams;
  proxy::ProxyStats proxy;
  PairStats pairs;
  std::string candidate;                  // the version the evidence window is for
  DecisionListing decisions;              // the newest decisions in the base (yoke run only)
  std::optional<MetaStatus> meta;         // absent without meta (meta::MetaSync::Snapshot)
  std::optional<ImageStatus> image;       // absent under `yoke proxy`
  std::optional<ProcessMetrics> process;  // process_* in /metrics; absent: left out
  std::string build_githash;              // yoke_build_info's githash label ("" if unknown)
};

// How many decisions /status lists, newest first.
inline constexpr size_t kStatusDecisions = 10;

StatusReport BuildStatusReport(const StatusInputs& inputs);
// BuildStatusReport as one line of JSON (core/record_text.h's PrintJsonRecord) and a newline.
std::string StatusJson(const StatusInputs& inputs);
std::string MetricsText(const StatusInputs& inputs);
// One line for systemd's STATUS= (`systemctl status`): the roles and the judge's state, e.g.
// "running 1.0.0 up; testing 2.0.0: judge wait, 120/300 pairs, 42/60 s".
std::string SystemdStatusLine(const StatusReport& supervisor);

}  // namespace yoke
