#include "core/pair_stats.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

Pair P(std::string route, int running, int testing, bool failed = false) {
  Pair p;
  p.method = "GET";
  p.route = std::move(route);
  p.running_status = running;
  p.testing_status = testing;
  p.testing_failed = failed;
  return p;
}

// Each kind of disagreement is counted, overall and per route.
TEST(PairStatsTest, CountsDisagreementsByKind) {
  PairStats stats;
  stats.Add(P("/a", 200, 200));
  stats.Add(P("/a", 200, 500));
  stats.Add(P("/b", 200, 404));
  stats.Add(P("/b", 302, 404));
  stats.Add(P("/c", 500, 200));
  stats.Add(P("/c", 500, 500));
  stats.Add(P("/d", 200, 0, true));
  const PairCounts& t = stats.total();
  EXPECT_EQ(t.pairs, 7u);
  EXPECT_EQ(t.same_status, 2u);
  EXPECT_EQ(t.testing_5xx_running_not, 1u);
  EXPECT_EQ(t.testing_4xx_running_ok, 2u);
  EXPECT_EQ(t.testing_better, 1u);
  EXPECT_EQ(t.testing_no_answer, 1u);
  EXPECT_EQ(t.running_errors, 2u);
  EXPECT_EQ(stats.routes().at("/b").testing_4xx_running_ok, 2u);
}

// Past the route limit, new routes share one bucket: memory stays bounded.
TEST(PairStatsTest, BoundsTheNumberOfRoutes) {
  PairStats stats(3);
  for (int i = 0; i < 100; ++i) stats.Add(P("/r" + std::to_string(i), 200, 200));
  EXPECT_EQ(stats.routes().size(), 4u);
  EXPECT_EQ(stats.routes().at("(other)").pairs, 97u);
}

}  // namespace
}  // namespace yoke
