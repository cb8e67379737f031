// The proxy's counters and latency histograms: atomics bumped on the I/O threads (relaxed:
// each is a plain count), read as a snapshot for /status and /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/mirror_policy.h"
#include "core/prometheus.h"

namespace yoke::proxy {

// Upper bounds in seconds; the last bucket is +Inf.
inline constexpr std::array<double, 14> kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct HistogramSnapshot {
  std::array<uint64_t, kLatencyBuckets.size() + 1> counts{};  // not cumulative
  uint64_t count = 0;
  double sum_seconds = 0;
};

class Histogram {
 public:
  void Observe(std::chrono::microseconds latency);
  HistogramSnapshot Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> counts_{};
  std::atomic<uint64_t> sum_us_{0};
};

// A point-in-time copy of every counter.
struct ProxyStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t requests = 0;
  std::array<uint64_t, 6> responses_by_class{};  // index 1..5: 1xx..5xx
  uint64_t bad_requests = 0;                     // 400 from the proxy
  uint64_t too_large = 0;                        // 413
  uint64_t headers_too_large = 0;                // 431
  uint64_t upstream_unreachable = 0;             // 502
  uint64_t upstream_timeouts = 0;                // 504
  uint64_t client_timeouts = 0;                  // slow or idle clients dropped
  uint64_t mirror_sent = 0;
  uint64_t mirror_in_flight = 0;
  uint64_t mirror_failed = 0;  // testing gave no answer
  std::array<uint64_t, std::size(kAllMirrorDrops)> mirror_dropped{};
  uint64_t pairs = 0;
  HistogramSnapshot running_latency;
  HistogramSnapshot testing_latency;
};

struct ProxyCounters {
  std::atomic<uint64_t> connections_accepted{0}, connections_open{0}, connections_refused{0};
  std::atomic<uint64_t> requests{0};
  std::array<std::atomic<uint64_t>, 6> responses_by_class{};
  std::atomic<uint64_t> bad_requests{0}, too_large{0}, headers_too_large{0};
  std::atomic<uint64_t> upstream_unreachable{0}, upstream_timeouts{0}, client_timeouts{0};
  std::atomic<uint64_t> mirror_sent{0}, mirror_in_flight{0}, mirror_failed{0};
  std::array<std::atomic<uint64_t>, std::size(kAllMirrorDrops)> mirror_dropped{};
  std::atomic<uint64_t> pairs{0};
  Histogram running_latency;
  Histogram testing_latency;

  void CountResponse(unsigned status);
  void CountDrop(MirrorDrop reason);
  ProxyStats Snapshot() const;
};

// Adds `stats` to a /metrics rendering, every name prefixed `yoke_proxy_`.
void AddPrometheus(const ProxyStats& stats, PrometheusText& out);

}  // namespace yoke::proxy
