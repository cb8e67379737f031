#include "core/judge.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

using namespace std::chrono_literals;

// Builds pairs on `routes` routes: `n` pairs, of which the first `running_5xx` have running
// answer 500 and `testing_5xx` have testing answer 500.
Evidence Traffic(uint64_t n, uint64_t running_5xx, uint64_t testing_5xx, int routes = 1) {
  Evidence e;
  e.window = 120s;
  for (uint64_t i = 0; i < n; ++i) {
    Pair p;
    p.method = "GET";
    p.route = "/r" + std::to_string(i % routes);
    p.running_status = i < running_5xx ? 500 : 200;
    // Spread testing's errors over other requests than running's: independent noise.
    p.testing_status = (n - 1 - i) < testing_5xx ? 500 : 200;
    p.running_latency = 1000us;
    p.testing_latency = 1100us;
    e.pairs.Add(p);
  }
  e.running_requests = n;
  e.testing_requests = n;
  return e;
}

const GateResult& Gate(const Judgement& j, const std::string& name) {
  for (const auto& g : j.gates) {
    if (g.name == name) return g;
  }
  throw std::runtime_error("no gate " + name);
}

// Both versions fail 2% of requests: noise, not a difference. Testing is promoted.
TEST(JudgeTest, PromotesIdenticalVersionsWithNoise) {
  Evidence e = Traffic(3000, 60, 60);
  e.running_logs.errors = 60;
  e.testing_logs.errors = 58;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  EXPECT_EQ(Gate(j, "5xx").outcome, GateOutcome::kPass);
}

// Twice running's error rate, with enough evidence: rejected, on the 5xx gate.
TEST(JudgeTest, RejectsTwiceTheErrorRate) {
  Evidence e = Traffic(3000, 60, 150);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  EXPECT_EQ(Gate(j, "5xx").outcome, GateOutcome::kFail);
  EXPECT_NE(j.reason.find("5xx"), std::string::npos);
}

// A handful of unlucky requests neither rejects nor promotes.
TEST(JudgeTest, WaitsOnAFewUnluckyRequests) {
  Evidence e = Traffic(40, 0, 3);
  e.window = 10s;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kWait) << j.reason;
  EXPECT_NE(Gate(j, "5xx").outcome, GateOutcome::kFail);
}

// One route of fifty answers 404 where running answered 200: rejected, naming the route, even
// before the minimum window.
TEST(JudgeTest, RejectsALostRouteByName) {
  Evidence e;
  e.window = 20s;
  for (int i = 0; i < 500; ++i) {
    Pair p;
    p.route = "/route" + std::to_string(i % 50);
    p.running_status = 200;
    p.testing_status = p.route == "/route17" ? 404 : 200;
    e.pairs.Add(p);
  }
  e.running_requests = e.testing_requests = 500;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  const GateResult& lost = Gate(j, "lost_routes");
  EXPECT_EQ(lost.outcome, GateOutcome::kFail);
  EXPECT_EQ(lost.culprits, std::vector<std::string>{"/route17"});
  EXPECT_NE(j.reason.find("/route17"), std::string::npos);
}

// An error kind that testing logs and running never has: rejected, naming the kind.
TEST(JudgeTest, RejectsANewErrorKindByName) {
  Evidence e = Traffic(1000, 0, 0);
  e.running_kinds_ever["db: timeout after # ms"] = 4;
  e.running_logs.errors = 4;
  e.testing_logs.errors = 7;
  e.testing_logs.error_kinds["db: timeout after # ms"] = 3;
  e.testing_logs.error_kinds["billing: no price for \"…\""] = 4;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  EXPECT_EQ(Gate(j, "new_error_kinds").culprits,
            std::vector<std::string>{"billing: no price for \"…\""});
}

// Too little traffic: wait, whatever the clock says, until the maximum window.
TEST(JudgeTest, WaitsOnTooLittleTraffic) {
  Evidence e = Traffic(50, 0, 0);
  e.window = 600s;
  EXPECT_EQ(Judge(JudgeSettings(), e).verdict, JudgeVerdict::kWait);
  e.window = 1800s;
  Judgement at_max = Judge(JudgeSettings(), e);
  EXPECT_EQ(at_max.verdict, JudgeVerdict::kReject);
  EXPECT_NE(at_max.reason.find("within 1800 s"), std::string::npos);
  JudgeSettings keep;
  keep.reject_at_max_window = false;
  EXPECT_EQ(Judge(keep, e).verdict, JudgeVerdict::kWait);
}

// Zero errors on both sides: promoted once the minimum window and pairs are reached.
TEST(JudgeTest, PromotesZeroErrorsAfterTheWindow) {
  Evidence e = Traffic(300, 0, 0);
  e.window = 30s;
  EXPECT_EQ(Judge(JudgeSettings(), e).verdict, JudgeVerdict::kWait);
  e.window = 60s;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  for (const auto& g : j.gates)
    EXPECT_EQ(g.outcome, GateOutcome::kPass) << g.name << ": " << g.detail;
}

// Errors logged while testing starts count against it; running's startup does not count.
TEST(JudgeTest, CountsTestingStartupErrorsOnly) {
  Evidence e = Traffic(2000, 0, 0);
  e.running_logs.startup_errors = 500;
  EXPECT_EQ(Judge(JudgeSettings(), e).verdict, JudgeVerdict::kPromote);
  e.testing_logs.startup_errors = 500;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject);
  EXPECT_EQ(Gate(j, "log_errors").outcome, GateOutcome::kFail);
}

// The quantiles the docs quote.
TEST(JudgeTest, NormalQuantiles) {
  EXPECT_NEAR(ZForConfidence(0.95), 1.6449, 1e-4);
  EXPECT_NEAR(ZForConfidence(0.99), 2.3263, 1e-4);
  EXPECT_NEAR(ZForConfidence(0.5), 0.0, 1e-9);
}

}  // namespace
}  // namespace yoke
