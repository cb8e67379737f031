// The status page's history: a bounded ring of points sampled from the evidence window and the
// proxy's latency histograms, served at /status/history and drawn by the page. Each point holds
// the window's pairs so far and their rate since the point before, each side's error rate in the
// window (5xx or no answer, per pair) and each side's p50/p99 latency over the interval.
// Pure apart from its mutex: readings come in as plain values (the caller reads the clock).
// Thread-safety: Add and Points may be called from any threads.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace yoke {

// What the caller reads at one moment. The bucket counts are cumulative since yoke started
// (one count per upper bound plus +Inf, not cumulative across buckets), as the proxy keeps them.
struct HistoryReading {
  int64_t unix_ms = 0;
  std::string candidate;  // the version the window is for; empty: no window
  uint64_t pairs = 0;     // in the window
  uint64_t running_errors = 0;
  uint64_t testing_errors = 0;
  std::vector<uint64_t> running_buckets;
  std::vector<uint64_t> testing_buckets;
};

struct HistoryPoint {
  int64_t unix_ms = 0;
  std::string candidate;
  uint64_t pairs = 0;
  double pairs_per_s = 0;  // since the point before (0 for the first)
  double running_error_rate = 0;
  double testing_error_rate = 0;
  // Over the interval since the point before; nothing when no request was timed in it.
  std::optional<double> running_p50_ms, running_p99_ms, testing_p50_ms, testing_p99_ms;
};

// The q-quantile (0..1) of a histogram with `upper_bounds` (seconds, increasing) and one count
// per bucket plus the +Inf bucket, interpolated linearly inside its bucket, in milliseconds. A
// quantile in the +Inf bucket is given as the last bound. Nothing when the counts are all zero.
std::optional<double> BucketQuantileMs(std::span<const double> upper_bounds,
                                       std::span<const uint64_t> counts, double q);

class StatusHistory {
 public:
  // REQUIRES: capacity > 0. `upper_bounds`: the histograms' bucket bounds, in seconds.
  StatusHistory(size_t capacity, std::vector<double> upper_bounds);

  // Appends the point for `reading`; the oldest point goes once `capacity` are held.
  void Add(const HistoryReading& reading);
  std::vector<HistoryPoint> Points() const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::deque<HistoryPoint> points_;         // GUARDED_BY(mu_)
  std::optional<HistoryReading> previous_;  // GUARDED_BY(mu_)
};

}  // namespace yoke
