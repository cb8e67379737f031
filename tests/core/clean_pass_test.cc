#include "core/clean_pass.h"

#include <gtest/gtest.h>

#include <cmath>

namespace yoke {
namespace {

// With the defaults (0.1-point floor on 5xx and 4xx, 95%), a clean pass needs the 2,324 pairs of
// docs/judge.md: more than min_pairs (300), so that is what a promotion needs.
TEST(CleanPassTest, DefaultsNeedTheJudgesFigureNotMinPairs) {
  JudgeSettings s;
  std::string gate;
  EXPECT_EQ(StatisticalCleanPairs(s, &gate), 2324u);
  EXPECT_EQ(gate, "5xx");
  EXPECT_EQ(CleanPassPairs(s), 2324u);
  s.min_pairs = 5000;
  EXPECT_EQ(CleanPassPairs(s), 5000u);
}

// A wider floor needs fewer pairs (about 2.3/f), a higher confidence more.
TEST(CleanPassTest, FollowsMarginAndConfidence) {
  JudgeSettings s;
  s.margin_5xx.floor = s.margin_4xx.floor = s.margin_log_errors.floor = 0.01;
  const uint64_t at_one_point = StatisticalCleanPairs(s);
  EXPECT_EQ(at_one_point, PairsToShowClean(0.01, 0.95, false));
  EXPECT_LT(at_one_point, 300u);
  EXPECT_GT(at_one_point, 200u);
  s.confidence = 0.99;
  EXPECT_GT(StatisticalCleanPairs(s), at_one_point);
}

// The estimate: pairs left, and the time they take at the window's rate, never less than what
// min_window still asks for.
TEST(CleanPassTest, EstimatesPairsAndTimeLeft) {
  CleanPassEstimate e = EstimateCleanPass(2324, 324, 20, 60);
  EXPECT_EQ(e.left, 2000u);
  EXPECT_DOUBLE_EQ(e.pairs_per_s, 16.2);
  ASSERT_TRUE(e.seconds_left);
  EXPECT_NEAR(*e.seconds_left, 2000 / 16.2, 1e-9);

  e = EstimateCleanPass(300, 400, 10, 60);  // pairs are there; the window is not
  EXPECT_EQ(e.left, 0u);
  ASSERT_TRUE(e.seconds_left);
  EXPECT_DOUBLE_EQ(*e.seconds_left, 50);

  e = EstimateCleanPass(300, 0, 0, 60);  // no rate yet
  EXPECT_EQ(e.left, 300u);
  EXPECT_FALSE(e.seconds_left);

  e = EstimateCleanPass(300, -5, std::nan(""), 60);  // figures from the network
  EXPECT_EQ(e.left, 300u);
  EXPECT_FALSE(e.seconds_left);
}

}  // namespace
}  // namespace yoke
