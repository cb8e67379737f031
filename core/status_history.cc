#include "core/status_history.h"

#include <algorithm>
#include <cassert>

namespace yoke {

std::optional<double> BucketQuantileMs(std::span<const double> bounds,
                                       std::span<const uint64_t> counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0 || bounds.empty()) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    if (static_cast<double>(below + counts[i]) >= rank) {
      if (i >= bounds.size()) return bounds.back() * 1000;  // the +Inf bucket
      const double low = i == 0 ? 0 : bounds[i - 1];
      const double within = (rank - static_cast<double>(below)) / static_cast<double>(counts[i]);
      return (low + (bounds[i] - low) * std::clamp(within, 0.0, 1.0)) * 1000;
    }
    below += counts[i];
  }
  return bounds.back() * 1000;
}

StatusHistory::StatusHistory(size_t capacity, std::vector<double> upper_bounds)
    : capacity_(capacity), bounds_(std::move(upper_bounds)) {
  assert(capacity_ > 0);
}

void StatusHistory::Add(const HistoryReading& r) {
  HistoryPoint p;
  p.unix_ms = r.unix_ms;
  p.candidate = r.candidate;
  p.pairs = r.pairs;
  if (r.pairs > 0) {
    p.running_error_rate = static_cast<double>(r.running_errors) / static_cast<double>(r.pairs);
    p.testing_error_rate = static_cast<double>(r.testing_errors) / static_cast<double>(r.pairs);
  }
  std::lock_guard lock(mu_);
  // Latency over the interval: the difference of the cumulative buckets. A histogram that shrank
  // (a counter reset) is read as if it started at zero.
  auto interval = [](const std::vector<uint64_t>& now, const std::vector<uint64_t>* before) {
    std::vector<uint64_t> out = now;
    if (!before || before->size() != now.size()) return out;
    for (size_t i = 0; i < now.size(); ++i) {
      if (now[i] < (*before)[i]) return now;
      out[i] = now[i] - (*before)[i];
    }
    return out;
  };
  const bool have_previous = previous_.has_value();
  const std::vector<uint64_t> running =
      interval(r.running_buckets, have_previous ? &previous_->running_buckets : nullptr);
  const std::vector<uint64_t> testing =
      interval(r.testing_buckets, have_previous ? &previous_->testing_buckets : nullptr);
  p.running_p50_ms = BucketQuantileMs(bounds_, running, 0.50);
  p.running_p99_ms = BucketQuantileMs(bounds_, running, 0.99);
  p.testing_p50_ms = BucketQuantileMs(bounds_, testing, 0.50);
  p.testing_p99_ms = BucketQuantileMs(bounds_, testing, 0.99);
  if (have_previous && r.unix_ms > previous_->unix_ms) {
    // A new window (another candidate, or the count went back) starts from zero.
    const bool same_window = r.candidate == previous_->candidate && r.pairs >= previous_->pairs;
    const uint64_t added = same_window ? r.pairs - previous_->pairs : r.pairs;
    p.pairs_per_s =
        static_cast<double>(added) * 1000.0 / static_cast<double>(r.unix_ms - previous_->unix_ms);
  }
  previous_ = r;
  points_.push_back(std::move(p));
  while (points_.size() > capacity_) points_.pop_front();
}

std::vector<HistoryPoint> StatusHistory::Points() const {
  std::lock_guard lock(mu_);
  return {points_.begin(), points_.end()};
}

}  // namespace yoke
