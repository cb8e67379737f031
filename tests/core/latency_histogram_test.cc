#include "core/latency_histogram.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

using namespace std::chrono_literals;

// Quantiles come back within a bucket's half-width (about 9%).
TEST(LatencyHistogramTest, QuantilesAreWithinABucket) {
  LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.Add(std::chrono::microseconds(i * 10));  // 10 us .. 10 ms
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_NEAR(h.QuantileMs(0.5), 5.0, 0.5);
  EXPECT_NEAR(h.QuantileMs(0.95), 9.5, 0.9);
  EXPECT_NEAR(h.QuantileMs(0.99), 9.9, 0.9);
  EXPECT_EQ(LatencyHistogram().QuantileMs(0.5), 0);
}

// Out-of-range latencies land in the first and last buckets, never outside.
TEST(LatencyHistogramTest, ClampsExtremes) {
  EXPECT_EQ(LatencyHistogram::BucketOf(0us), 0);
  EXPECT_EQ(LatencyHistogram::BucketOf(-5us), 0);
  EXPECT_EQ(LatencyHistogram::BucketOf(std::chrono::hours(5)), LatencyHistogram::kBuckets - 1);
}

// Alike distributions: U / (n_t n_r) is one half, and with a margin the test shows "not slower".
TEST(LatencyHistogramTest, RankTestOfAlikeDistributions) {
  LatencyHistogram t, r;
  for (int i = 0; i < 2000; ++i) {
    t.Add(std::chrono::microseconds(500 + (i * 37) % 4500));
    r.Add(std::chrono::microseconds(500 + (i * 53) % 4500));
  }
  RankTest test = MannWhitney(t, r, 0.05);
  EXPECT_NEAR(test.slower_share, 0.5, 0.01);
  EXPECT_LT(test.z, -1.645);
  EXPECT_GT(test.p_value, 0.9);
}

// Testing twice as slow: almost every testing latency exceeds running's; the test fails it.
TEST(LatencyHistogramTest, RankTestOfASlowerSide) {
  LatencyHistogram t, r;
  for (int i = 0; i < 500; ++i) {
    const auto base = std::chrono::microseconds(500 + (i * 37) % 4500);
    r.Add(base);
    t.Add(base * 2);
  }
  RankTest test = MannWhitney(t, r, 0.1);
  EXPECT_GT(test.slower_share, 0.75);
  EXPECT_GT(test.z, 5);
  EXPECT_LT(test.p_value, 1e-6);
  // Swapped: testing faster, far below the margin.
  EXPECT_LT(MannWhitney(r, t, 0.1).slower_share, 0.25);
}

// Empty sides give no figures, not a division by zero.
TEST(LatencyHistogramTest, EmptySideIsNeutral) {
  LatencyHistogram t, r;
  r.Add(1ms);
  RankTest test = MannWhitney(t, r, 0.1);
  EXPECT_EQ(test.testing_n, 0u);
  EXPECT_EQ(test.p_value, 1);
}

}  // namespace
}  // namespace yoke
