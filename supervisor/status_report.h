// What /status and /metrics say: the supervisor's view (roles, instances, counters), the
// proxy's counters and the evidence window, rendered as JSON and as Prometheus text.
// Pure functions of the snapshots passed in.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/pair_stats.h"
#include "core/upstream.h"
#include "proxy/proxy_stats.h"
#include "supervisor/meta_sync.h"
#include "supervisor/supervisor.h"

namespace yoke {

struct StatusInputs {
  std::string service;
  std::chrono::seconds uptime{0};
  std::optional<SupervisorSnapshot> supervisor;  // absent under `yoke proxy`
  UpstreamSnapshot upstreams;
  proxy::ProxyStats proxy;
  PairStats pairs;
  std::string candidate;             // the version the evidence window is for
  std::optional<MetaSnapshot> meta;  // absent without meta
};

std::string StatusJson(const StatusInputs& inputs);
std::string MetricsText(const StatusInputs& inputs);

}  // namespace yoke
