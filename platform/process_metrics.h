// yoke's own process figures for /metrics, the `process_*` family every Prometheus client
// library exports (CPU seconds, resident and virtual memory, open and maximum descriptors, start
// time), read from /proc/self. Thread-safety: a free function; safe from any thread.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace yoke {

struct ProcessMetrics {
  double cpu_seconds = 0;       // user + system
  uint64_t resident_bytes = 0;  // RSS
  uint64_t virtual_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;           // RLIMIT_NOFILE's soft limit
  double start_time_seconds = 0;  // since the Unix epoch
};

// Fails (with why) only when /proc/self cannot be read: /metrics then leaves process_* out.
StatusOr<ProcessMetrics> ReadProcessMetrics();

}  // namespace yoke
