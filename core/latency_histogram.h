// Latency distributions: a fixed-size log-scale histogram of one side's latencies, its
// quantiles, and the Mann-Whitney U rank test between two of them (as Kayenta compares metric
// distributions). Pure values; not thread-safe (the owner locks). The math is in docs/judge.md.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace yoke {

// Bucket k holds latencies in [2^(k/4), 2^((k+1)/4)) microseconds (bucket 0 also everything
// below, the last everything above, 16.8 s): each bucket is 19% wide, so a quantile is known to
// within about 9%. 96 counters, 384 bytes: every route keeps two.
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 96;

  void Add(std::chrono::microseconds latency);
  uint64_t count() const { return count_; }
  uint32_t bucket(int k) const { return buckets_[k]; }
  // The q-quantile (0 < q <= 1) in milliseconds: the geometric middle of the bucket that holds
  // it; 0 when empty.
  double QuantileMs(double q) const;
  // The bucket a latency falls in.
  static int BucketOf(std::chrono::microseconds latency);

 private:
  std::array<uint32_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
};

// The rank test of "testing is slower than running by more than `margin`" on two histograms.
// `slower_share` is U / (n_t n_r): the chance that a random testing latency exceeds a random
// running one, ties (the same bucket) counting half; 0.5 when both are alike. z tests
// slower_share against 0.5 + margin with the tie-corrected normal approximation; p_value is
// its one-sided upper tail.
struct RankTest {
  uint64_t testing_n = 0;
  uint64_t running_n = 0;
  double slower_share = 0.5;
  double z = 0;
  double p_value = 1;
};
RankTest MannWhitney(const LatencyHistogram& testing, const LatencyHistogram& running,
                     double margin);

}  // namespace yoke
