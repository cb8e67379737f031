#include "core/status_history.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

const std::vector<double> kBounds = {0.001, 0.01, 0.1, 1};

// Quantiles interpolate inside their bucket; the +Inf bucket reads as the last bound.
TEST(StatusHistoryTest, QuantilesFromBuckets) {
  std::vector<uint64_t> counts = {0, 100, 0, 0, 0};  // all between 1 and 10 ms
  EXPECT_NEAR(BucketQuantileMs(kBounds, counts, 0.5).value(), 5.5, 1e-9);
  EXPECT_NEAR(BucketQuantileMs(kBounds, counts, 0.99).value(), 9.91, 1e-9);
  counts = {98, 0, 0, 0, 2};
  EXPECT_NEAR(BucketQuantileMs(kBounds, counts, 0.5).value(), 50.0 / 98, 1e-9);
  EXPECT_DOUBLE_EQ(BucketQuantileMs(kBounds, counts, 0.99).value(), 1000);
  EXPECT_FALSE(BucketQuantileMs(kBounds, std::vector<uint64_t>(5, 0), 0.5));
}

HistoryReading Reading(int64_t ms, std::string candidate, uint64_t pairs, uint64_t testing_errors,
                       std::vector<uint64_t> running, std::vector<uint64_t> testing) {
  HistoryReading r;
  r.unix_ms = ms;
  r.candidate = std::move(candidate);
  r.pairs = pairs;
  r.testing_errors = testing_errors;
  r.running_buckets = std::move(running);
  r.testing_buckets = std::move(testing);
  return r;
}

// Each point: the window's pairs and their rate since the point before, error rates in the
// window, latency over the interval only; a new candidate restarts the pair count.
TEST(StatusHistoryTest, PointsFollowTheWindow) {
  StatusHistory history(10, kBounds);
  history.Add(Reading(1000, "2.0.0", 0, 0, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}));
  history.Add(Reading(3000, "2.0.0", 100, 5, {0, 100, 0, 0, 0}, {0, 0, 100, 0, 0}));
  history.Add(Reading(5000, "2.0.0", 300, 5, {0, 100, 0, 0, 0}, {0, 0, 100, 0, 0}));
  history.Add(Reading(6000, "3.0.0", 20, 0, {0, 100, 20, 0, 0}, {0, 0, 120, 0, 0}));
  auto points = history.Points();
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].pairs_per_s, 0);
  EXPECT_FALSE(points[0].running_p50_ms);
  EXPECT_DOUBLE_EQ(points[1].pairs_per_s, 50);
  EXPECT_DOUBLE_EQ(points[1].testing_error_rate, 0.05);
  EXPECT_NEAR(points[1].running_p50_ms.value(), 5.5, 1e-9);
  EXPECT_NEAR(points[1].testing_p50_ms.value(), 55, 1e-9);
  EXPECT_DOUBLE_EQ(points[2].pairs_per_s, 100);
  EXPECT_DOUBLE_EQ(points[2].testing_error_rate, 5.0 / 300);
  EXPECT_FALSE(points[2].running_p99_ms);  // nothing timed in that interval
  EXPECT_EQ(points[3].candidate, "3.0.0");
  EXPECT_DOUBLE_EQ(points[3].pairs_per_s, 20);
  EXPECT_NEAR(points[3].running_p50_ms.value(), 55, 1e-9);
}

// The ring holds at most its capacity, oldest out first.
TEST(StatusHistoryTest, IsBounded) {
  StatusHistory history(3, kBounds);
  for (int i = 0; i < 10; ++i) history.Add(Reading(i * 1000, "1", i, 0, {}, {}));
  auto points = history.Points();
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points.front().unix_ms, 7000);
  EXPECT_EQ(points.back().unix_ms, 9000);
}

}  // namespace
}  // namespace yoke
