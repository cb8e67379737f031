#include "core/drift_baseline.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

DecisionEntry Entry(Verdict verdict, const std::string& to, uint64_t pairs, uint64_t errors) {
  DecisionEntry e;
  e.id = to;
  e.decision.set_verdict(verdict);
  e.decision.set_to_version(to);
  if (pairs > 0) {
    e.decision.mutable_testing_rates()->set_pairs(pairs);
    e.decision.mutable_testing_rates()->set_errors_5xx(errors);
    e.decision.mutable_testing_rates()->set_requests(pairs);
    e.decision.mutable_testing_rates()->set_log_errors(errors * 2);
  }
  return e;
}

// The newest N promotions with rates are pooled; rejections, promotions without rates and
// unreadable records are skipped.
TEST(DriftBaselineTest, PoolsTheLastPromotions) {
  DecisionListing listing;
  listing.entries.push_back(Entry(Verdict::REJECT, "1.5.0", 1000, 90));
  listing.entries.push_back(Entry(Verdict::PROMOTE, "1.4.0", 1000, 1));
  listing.entries.push_back(Entry(Verdict::PROMOTE, "1.3.0", 0, 0));  // by hand, no rates
  DecisionEntry broken;
  broken.problem = "x.txtpb:1:1: bad";
  listing.entries.push_back(broken);
  listing.entries.push_back(Entry(Verdict::PROMOTE, "1.2.0", 3000, 3));
  listing.entries.push_back(Entry(Verdict::PROMOTE, "1.1.0", 5000, 50));
  DriftBaseline b = PoolPromotions(listing, 2);
  EXPECT_EQ(b.versions, (std::vector<std::string>{"1.4.0", "1.2.0"}));
  EXPECT_EQ(b.pairs, 4000u);
  EXPECT_EQ(b.errors_5xx, 4u);
  EXPECT_EQ(b.requests, 4000u);
  EXPECT_EQ(b.log_errors, 8u);
  EXPECT_TRUE(PoolPromotions(listing, 0).versions.empty());
}

// A window's rates carry the quantiles of the side's latency histogram.
TEST(DriftBaselineTest, RatesCarryQuantiles) {
  LatencyHistogram h;
  for (int i = 1; i <= 100; ++i) h.Add(std::chrono::microseconds(i * 100));
  VersionRates r = RatesOf("2.0.0", 100, 1, 120, 3, h);
  EXPECT_EQ(r.version(), "2.0.0");
  EXPECT_EQ(r.requests(), 120u);
  EXPECT_NEAR(r.p50_ms(), 5.0, 0.5);
  EXPECT_GT(r.p99_ms(), r.p95_ms() * 0.99);
}

}  // namespace
}  // namespace yoke
