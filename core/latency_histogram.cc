#include "core/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace yoke {

int LatencyHistogram::BucketOf(std::chrono::microseconds latency) {
  const auto us = latency.count();
  if (us <= 1) return 0;
  const int k = static_cast<int>(std::floor(4 * std::log2(static_cast<double>(us))));
  return std::clamp(k, 0, kBuckets - 1);
}

void LatencyHistogram::Add(std::chrono::microseconds latency) {
  ++buckets_[BucketOf(latency)];
  ++count_;
}

double LatencyHistogram::QuantileMs(double q) const {
  if (count_ == 0) return 0;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(count_);
  uint64_t seen = 0;
  int k = 0;
  for (; k < kBuckets; ++k) {
    seen += buckets_[k];
    if (static_cast<double>(seen) >= rank && buckets_[k] > 0) break;
  }
  k = std::min(k, kBuckets - 1);
  return std::exp2((k + 0.5) / 4) / 1000;
}

RankTest MannWhitney(const LatencyHistogram& testing, const LatencyHistogram& running,
                     double margin) {
  RankTest r;
  r.testing_n = testing.count();
  r.running_n = running.count();
  if (r.testing_n == 0 || r.running_n == 0) return r;
  // U of testing: for each testing latency, the running latencies below it, ties counting half.
  double u = 0, ties = 0, running_below = 0;
  for (int k = 0; k < LatencyHistogram::kBuckets; ++k) {
    const double t = testing.bucket(k), rr = running.bucket(k);
    u += t * (running_below + rr / 2);
    running_below += rr;
    const double c = t + rr;
    ties += c * c * c - c;
  }
  const double nt = static_cast<double>(r.testing_n), nr = static_cast<double>(r.running_n);
  const double n = nt + nr;
  r.slower_share = u / (nt * nr);
  double var = nt * nr / 12 * ((n + 1) - (n > 1 ? ties / (n * (n - 1)) : 0));
  // Every latency in one bucket: no spread to test against; a tiny variance keeps z finite.
  var = std::max(var, 1e-9);
  r.z = (u - nt * nr * (0.5 + margin)) / std::sqrt(var);
  r.p_value = 0.5 * std::erfc(r.z / std::sqrt(2.0));
  return r;
}

}  // namespace yoke
