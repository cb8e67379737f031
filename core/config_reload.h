// What a config re-read on SIGHUP changes in a running yoke. Some fields apply live: the next
// judgement, health check, stop, intake scan or log line reads them (judge, mirror, health,
// stop_grace_ms, intake, disk_budget_bytes, proxy.drain_timeout_ms, log.level). Every other
// field is only read at start (sockets, the proxy's threads and limits, meta, the command, the
// port range, the restart backoff, ...): a change to one is named as needing a restart, and the
// running config keeps its old value. docs/config.md marks each field.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "proto/yoke/config.pb.h"

namespace yoke {

struct ConfigReload {
  Config applied;                          // `current` with every live field taken from `next`
  std::vector<std::string> changed_live;   // field paths ("judge.min_pairs"), in schema order
  std::vector<std::string> needs_restart;  // field paths that changed but wait for a restart
};

// The fields (and whole messages) that apply live, as field paths.
const std::vector<std::string>& LiveConfigFields();

// True when `path` ("proxy.drain_timeout_ms", "judge.margins") is or lies under a live field.
bool IsLiveConfigField(const std::string& path);

// Compares field by field (into singular messages; a repeated field or map is one field).
ConfigReload PlanReload(const Config& current, const Config& next);

}  // namespace yoke
