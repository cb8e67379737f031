// The judge's issue-18 gates on plain values: credential-stripped pairs, major versions,
// latency distributions, drift against earlier promotions, and body diffs against running's own
// noise. Each test builds the evidence by hand and reads the verdict and the figures.
#include <gtest/gtest.h>

#include "core/judge.h"

namespace yoke {
namespace {

using namespace std::chrono_literals;

// `n` pairs on `route`; running answers `running_status`, testing `testing_status`; latencies
// as given (testing's scaled by `slower`).
void Add(Evidence& e, const std::string& route, uint64_t n, int running_status, int testing_status,
         bool stripped = false, double slower = 1.0) {
  for (uint64_t i = 0; i < n; ++i) {
    Pair p;
    p.method = "GET";
    p.route = route;
    p.running_status = running_status;
    p.testing_status = testing_status;
    p.credentials_stripped = stripped;
    // Spread from 0.5 to 5 ms, the same spread on both sides.
    const auto base = std::chrono::microseconds(500 + (i * 37) % 4500);
    p.running_latency = base;
    p.testing_latency = std::chrono::microseconds(static_cast<int64_t>(base.count() * slower));
    e.pairs.Add(p);
  }
  e.running_requests += n;
  e.testing_requests += n;
}

Evidence Clean(uint64_t n = 3000) {
  Evidence e;
  e.window = 120s;
  e.running_version = "1.2.0";
  e.testing_version = "1.3.0";
  Add(e, "/a", n, 200, 200);
  return e;
}

const GateResult& Gate(const Judgement& j, const std::string& name) {
  for (const auto& g : j.gates) {
    if (g.name == name) return g;
  }
  throw std::runtime_error("no gate " + name);
}

const GateResult* RouteGate(const Judgement& j, const std::string& name, const std::string& route) {
  for (const auto& g : j.route_gates) {
    if (g.name == name && g.route == route) return &g;
  }
  return nullptr;
}

// A logged-in route: running answers 200, the anonymous copy 401. Counted as lost only when
// the copy was not stripped of its credentials.
TEST(JudgeBeyondTest, AuthFailuresOfStrippedCopiesDoNotLoseARoute) {
  Evidence e = Clean();
  Add(e, "/account", 400, 200, 401, /*stripped=*/true);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  EXPECT_EQ(Gate(j, "lost_routes").outcome, GateOutcome::kPass);
  EXPECT_NE(Gate(j, "lost_routes").detail.find("400 401/403 of copies without their credentials"),
            std::string::npos)
      << Gate(j, "lost_routes").detail;
  EXPECT_EQ(e.pairs.routes().at("/account").testing_auth_stripped, 400u);

  Evidence kept = Clean();
  Add(kept, "/account", 400, 200, 401, /*stripped=*/false);
  Judgement k = Judge(JudgeSettings(), kept);
  EXPECT_EQ(k.verdict, JudgeVerdict::kReject);
  EXPECT_EQ(Gate(k, "lost_routes").culprits, std::vector<std::string>{"/account"});
}

// Stripping explains a 401/403, never a 404 or a 500.
TEST(JudgeBeyondTest, StrippedCopiesStillLoseRoutesOnOtherStatuses) {
  Evidence e = Clean();
  Add(e, "/account", 400, 200, 404, /*stripped=*/true);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject);
  EXPECT_EQ(Gate(j, "lost_routes").outcome, GateOutcome::kFail);
}

// A new major version passes every gate and then waits for a person; a minor one is promoted.
TEST(JudgeBeyondTest, AMajorVersionWaitsForAPerson) {
  Evidence e = Clean();
  e.testing_version = "2.0.0";
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kWait);
  EXPECT_TRUE(j.awaiting_person);
  EXPECT_NE(j.reason.find("waiting for a person: 1.2.0 to 2.0.0 is a major version change"),
            std::string::npos)
      << j.reason;

  JudgeSettings automatic;
  automatic.auto_promote_major = true;
  EXPECT_EQ(Judge(automatic, e).verdict, JudgeVerdict::kPromote);

  e.testing_version = "1.3.0";
  Judgement minor = Judge(JudgeSettings(), e);
  EXPECT_EQ(minor.verdict, JudgeVerdict::kPromote) << minor.reason;
  EXPECT_FALSE(minor.awaiting_person);
}

// A major version that fails a gate is rejected as any other: the wait is for promotions only.
TEST(JudgeBeyondTest, AMajorVersionThatFailsIsRejected) {
  Evidence e = Clean();
  e.testing_version = "2.0.0";
  Add(e, "/b", 400, 200, 500);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject);
  EXPECT_FALSE(j.awaiting_person);
}

// Latency quantiles are reported per route always; the rank test is a gate only when set.
TEST(JudgeBeyondTest, ReportsLatencyQuantilesPerRoute) {
  Evidence e = Clean();
  Add(e, "/slow", 600, 200, 200, false, /*slower=*/2.0);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  const GateResult* slow = RouteGate(j, "latency", "/slow");
  ASSERT_NE(slow, nullptr);
  EXPECT_NEAR(slow->testing_p50_ms / slow->running_p50_ms, 2.0, 0.4);
  EXPECT_GT(slow->running_p99_ms, slow->running_p50_ms);
  EXPECT_GT(slow->slower_share, 0.8);
  EXPECT_NE(slow->detail.find("(reported, not a gate)"), std::string::npos) << slow->detail;
  const GateResult* a = RouteGate(j, "latency", "/a");
  ASSERT_NE(a, nullptr);
  EXPECT_NEAR(a->slower_share, 0.5, 0.01);
}

// With latency_max_effect set, a route twice as slow is rejected by name; the alike route and
// the overall distribution (mostly alike) are not.
TEST(JudgeBeyondTest, RejectsASlowerRouteWhenLatencyIsAGate) {
  JudgeSettings s;
  s.latency_max_effect = 0.1;
  Evidence e = Clean();
  Add(e, "/slow", 600, 200, 200, false, 2.0);
  Judgement j = Judge(s, e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  const GateResult* slow = RouteGate(j, "latency", "/slow");
  ASSERT_NE(slow, nullptr);
  EXPECT_EQ(slow->outcome, GateOutcome::kFail) << slow->detail;
  EXPECT_EQ(RouteGate(j, "latency", "/a")->outcome, GateOutcome::kPass);
  EXPECT_EQ(j.worse_routes, std::vector<std::string>{"/slow"});
  EXPECT_NE(j.reason.find("latency on /slow: "), std::string::npos) << j.reason;

  Evidence alike = Clean();
  Add(alike, "/b", 600, 200, 200);
  EXPECT_EQ(Judge(s, alike).verdict, JudgeVerdict::kPromote);
}

// Within the margin of running, but worse than the versions promoted before it: the drift gate
// rejects and names its baseline.
TEST(JudgeBeyondTest, DriftGateBoundsWhatPromotionsAddUp) {
  Evidence e;
  e.window = 120s;
  e.running_version = "1.9.0";
  e.testing_version = "1.10.0";
  Add(e, "/a", 9920, 200, 200);
  Add(e, "/a", 80, 500, 500);  // running 0.8%...
  Add(e, "/a", 20, 200, 500);  // ...testing 1.0%: within 0.5 x 0.8% + 0.1% of running
  Judgement without = Judge(JudgeSettings(), e);
  EXPECT_EQ(without.verdict, JudgeVerdict::kPromote) << without.reason;
  EXPECT_EQ(Gate(without, "5xx_drift").outcome, GateOutcome::kPass);
  EXPECT_NE(Gate(without, "5xx_drift").detail.find("no baseline"), std::string::npos);

  e.baseline.versions = {"1.8.0", "1.7.0"};
  e.baseline.pairs = 20000;
  e.baseline.errors_5xx = 20;  // 0.1%
  e.baseline.requests = 20000;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  const GateResult& drift = Gate(j, "5xx_drift");
  EXPECT_EQ(drift.outcome, GateOutcome::kFail);
  EXPECT_NE(drift.detail.find("(baseline: 1.8.0, 1.7.0)"), std::string::npos) << drift.detail;
  EXPECT_EQ(drift.culprits, (std::vector<std::string>{"1.8.0", "1.7.0"}));
  EXPECT_EQ(Gate(j, "5xx").outcome, GateOutcome::kPass);
}

BodySample Item(int n, bool price_as_string) {
  BodySample s;
  s.route = "/api/items/:id";
  s.running_type = s.testing_type = s.running_again_type = "application/json";
  auto body = [&](int stamp, bool as_string) {
    return std::string(R"({"id":"7","price":)") + (as_string ? R"("12.50")" : "12.5") +
           R"(,"served_at":)" + std::to_string(stamp) + "}";
  };
  s.running_body = body(n * 3, false);
  s.testing_body = body(n * 3 + 1, price_as_string);
  s.running_again_body = body(n * 3 + 2, false);
  return s;
}

// A field whose type changed differs far more often between running and testing than between
// running and itself: body_diff fails naming route, path and an example; the timestamp, which
// differs everywhere, is noise.
TEST(JudgeBeyondTest, BodyDiffNamesAChangedFieldAndIgnoresNoise) {
  Evidence e = Clean();
  for (int i = 0; i < 30; ++i) e.bodies.Add(Item(i, /*price_as_string=*/true));
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  const GateResult& body = Gate(j, "body_diff");
  EXPECT_EQ(body.outcome, GateOutcome::kFail);
  EXPECT_EQ(body.culprits, std::vector<std::string>{"/api/items/:id $.price"});
  EXPECT_NE(body.detail.find("type changed in 30 of 30 samples (running against itself: 0)"),
            std::string::npos)
      << body.detail;
  EXPECT_NE(body.detail.find(R"(e.g. running 12.5, testing "12.50")"), std::string::npos)
      << body.detail;

  Evidence same = Clean();
  for (int i = 0; i < 30; ++i) same.bodies.Add(Item(i, false));
  Judgement k = Judge(JudgeSettings(), same);
  EXPECT_EQ(k.verdict, JudgeVerdict::kPromote) << k.reason;
  EXPECT_EQ(Gate(k, "body_diff").outcome, GateOutcome::kPass) << Gate(k, "body_diff").detail;
}

// Below body_diff_min_samples a route's bodies are counted, not judged.
TEST(JudgeBeyondTest, BodyDiffWaitsForEnoughSamples) {
  Evidence e = Clean();
  for (int i = 0; i < 10; ++i) e.bodies.Add(Item(i, true));
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  EXPECT_NE(Gate(j, "body_diff").detail.find("10 samples, 0 routes judged"), std::string::npos)
      << Gate(j, "body_diff").detail;
}

}  // namespace
}  // namespace yoke
