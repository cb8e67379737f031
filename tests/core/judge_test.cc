#include "core/judge.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

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

// Adds `n` pairs on `route`: running answers 500 on `running_5xx` of them, testing on
// `testing_5xx`, each spread evenly over the n (every n/k-th request), on different requests.
void AddRoute(Evidence& e, const std::string& route, uint64_t n, uint64_t running_5xx,
              uint64_t testing_5xx) {
  for (uint64_t i = 0; i < n; ++i) {
    Pair p;
    p.method = "GET";
    p.route = route;
    p.running_status = running_5xx && (i * running_5xx) % n < running_5xx ? 500 : 200;
    p.testing_status = testing_5xx && ((n - 1 - i) * testing_5xx) % n < testing_5xx ? 500 : 200;
    p.running_latency = 1000us;
    p.testing_latency = 1000us;
    e.pairs.Add(p);
  }
  e.running_requests += n;
  e.testing_requests += n;
}

const GateResult* RouteGate(const Judgement& j, const std::string& name, const std::string& route) {
  for (const auto& g : j.route_gates) {
    if (g.name == name && g.route == route) return &g;
  }
  return nullptr;
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

// Zero errors on both sides: promoted once the minimum window has passed and there are the
// pairs that show a clean candidate within the 0.1-point floor of the margin (2,324 with the
// defaults; docs/judge.md); 300 pairs no longer do.
TEST(JudgeTest, PromotesZeroErrorsAfterTheWindow) {
  EXPECT_EQ(PairsToShowClean(0.001, 0.95, false), 2324u);
  Evidence few = Traffic(300, 0, 0);
  few.window = 60s;
  EXPECT_EQ(Judge(JudgeSettings(), few).verdict, JudgeVerdict::kWait);
  Evidence e = Traffic(2324, 0, 0);
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
  Evidence e = Traffic(2400, 0, 0);
  e.running_logs.startup_errors = 500;
  EXPECT_EQ(Judge(JudgeSettings(), e).verdict, JudgeVerdict::kPromote);
  e.testing_logs.startup_errors = 500;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject);
  EXPECT_EQ(Gate(j, "log_errors").outcome, GateOutcome::kFail);
}

// The case: one route of three answers 500 on 2% of its requests, running on none.
// Overall that is 0.67%; on the route it is 66 against 0, and the route names itself with its
// figures, before the minimum window.
TEST(JudgeTest, RejectsTwoPercentOnOneRouteOfThreeByName) {
  Evidence e;
  e.window = 20s;
  AddRoute(e, "/api/items", 3300, 0, 66);
  AddRoute(e, "/api/orders", 3300, 0, 0);
  AddRoute(e, "/", 3300, 0, 0);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  EXPECT_EQ(j.worse_routes, std::vector<std::string>{"/api/items"});
  EXPECT_TRUE(j.reason.starts_with(
      "5xx on /api/items: testing 2.0% (66/3,300) vs running 0.0% (0/3,300), margin 0.10%"))
      << j.reason;
  EXPECT_EQ(Gate(j, "5xx_routes").outcome, GateOutcome::kFail);
  EXPECT_EQ(Gate(j, "5xx_routes").culprits, std::vector<std::string>{"/api/items"});
  ASSERT_TRUE(RouteGate(j, "5xx", "/api/items"));
  EXPECT_EQ(RouteGate(j, "5xx", "/api/items")->outcome, GateOutcome::kFail);
  EXPECT_LE(RouteGate(j, "5xx", "/api/items")->adjusted_p, 0.05);
  EXPECT_EQ(RouteGate(j, "5xx", "/api/orders")->outcome, GateOutcome::kPass);
}

// The same 66 failures spread evenly over the three routes: still worse than running, overall
// (0.67% against 0, beyond the 0.1-point margin).
TEST(JudgeTest, RejectsTheSameFailuresSpreadEvenly) {
  Evidence e;
  e.window = 20s;
  for (const char* route : {"/api/items", "/api/orders", "/"}) AddRoute(e, route, 3300, 0, 22);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  EXPECT_EQ(Gate(j, "5xx").outcome, GateOutcome::kFail) << Gate(j, "5xx").detail;
  EXPECT_NE(j.reason.find("5xx: worse: testing 0.67% (66/9,900) vs running 0.0% (0/9,900)"),
            std::string::npos)
      << j.reason;
}

// Independent noise on both sides at the same rates, route by route: promoted.
TEST(JudgeTest, PromotesNoiseOnly) {
  std::mt19937_64 rng(19);
  Evidence e;
  e.window = 120s;
  const std::vector<std::pair<std::string, double>> routes = {
      {"/api/items", 0.01}, {"/api/orders", 0.002}, {"/", 0.0}};
  for (int i = 0; i < 30000; ++i) {
    const auto& [route, rate] = routes[i % routes.size()];
    std::bernoulli_distribution fail(rate);
    Pair p;
    p.route = route;
    p.running_status = fail(rng) ? 503 : 200;
    p.testing_status = fail(rng) ? 503 : 200;
    e.pairs.Add(p);
  }
  e.running_requests = e.testing_requests = 30000;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  EXPECT_TRUE(j.worse_routes.empty());
  for (const auto& g : j.route_gates) {
    EXPECT_EQ(g.outcome, GateOutcome::kPass) << g.route << ": " << g.detail;
  }
}

// Fifty routes, identical versions with independent noise: the correction keeps the chance
// that one of the hundred route tests looks worse by luck under 5%.
TEST(JudgeTest, PromotesFiftyIdenticalRoutes) {
  std::mt19937_64 rng(50);
  Evidence e;
  e.window = 600s;
  const uint64_t n = 200000;
  for (uint64_t i = 0; i < n; ++i) {
    const int route = static_cast<int>(i % 50);
    std::bernoulli_distribution fail(0.001 * (route % 5));  // 0 to 0.4%
    std::bernoulli_distribution not_found(0.01 * (route % 3));
    Pair p;
    p.route = "/route" + std::to_string(route);
    p.running_status = fail(rng) ? 500 : not_found(rng) ? 404 : 200;
    p.testing_status = fail(rng) ? 500 : not_found(rng) ? 404 : 200;
    e.pairs.Add(p);
  }
  e.running_requests = e.testing_requests = n;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  EXPECT_EQ(j.route_gates.size(), 100u);  // 5xx and latency (reported) of each route
  EXPECT_TRUE(j.worse_routes.empty());
}

// A route with fewer pairs than route_min_pairs is reported with its figures but not judged:
// 3 failures of 100 neither reject nor hold the promotion.
TEST(JudgeTest, ReportsSmallRoutesWithoutJudgingThem) {
  Evidence e;
  e.window = 120s;
  AddRoute(e, "/big", 20000, 0, 0);
  AddRoute(e, "/rare", 100, 0, 3);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  const GateResult* rare = RouteGate(j, "5xx", "/rare");
  ASSERT_TRUE(rare);
  EXPECT_EQ(rare->outcome, GateOutcome::kNotJudged);
  EXPECT_EQ(GateOutcomeName(rare->outcome), "not judged");
  EXPECT_EQ(rare->testing_count, 3u);
  EXPECT_NE(rare->detail.find("not judged (100 pairs < route_min_pairs 300): testing 3.0% (3/100)"),
            std::string::npos)
      << rare->detail;
  EXPECT_NE(Gate(j, "5xx_routes").detail.find("1 below 300 pairs"), std::string::npos)
      << Gate(j, "5xx_routes").detail;
}

// Like lost_routes, a route's own gates fail or pass but never hold a promotion: a thin route
// that has not shown "not worse" yet does not keep identical versions waiting; a clearly worse
// one still rejects.
TEST(JudgeTest, AnUndecidedRouteDoesNotHoldThePromotion) {
  Evidence e;
  e.window = 120s;
  AddRoute(e, "/big", 20000, 0, 0);
  AddRoute(e, "/thin", 1000, 0, 0);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPromote) << j.reason;
  EXPECT_EQ(RouteGate(j, "5xx", "/thin")->outcome, GateOutcome::kWait);
  EXPECT_EQ(Gate(j, "5xx_routes").outcome, GateOutcome::kPass);
  EXPECT_NE(Gate(j, "5xx_routes").detail.find("2 routes judged: 1 not worse, 1 undecided"),
            std::string::npos)
      << Gate(j, "5xx_routes").detail;

  // 2% where running has none on the thin route: enough to fail it.
  Evidence bad;
  bad.window = 120s;
  AddRoute(bad, "/big", 20000, 0, 0);
  AddRoute(bad, "/thin", 1000, 0, 20);
  Judgement k = Judge(JudgeSettings(), bad);
  EXPECT_EQ(k.verdict, JudgeVerdict::kReject) << k.reason;
  EXPECT_EQ(k.worse_routes, std::vector<std::string>{"/thin"});
}

// The margin scales with running's rate: from 0% to 0.9% on a route is worse (a fixed point
// let it through); from 2% to 2.9% is within 1.5 x 2% + 0.1 points = 3.1%.
TEST(JudgeTest, MarginScalesWithRunningsRate) {
  Evidence zero;
  zero.window = 120s;
  AddRoute(zero, "/a", 5000, 0, 45);
  AddRoute(zero, "/b", 5000, 0, 0);
  Judgement j = Judge(JudgeSettings(), zero);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  EXPECT_EQ(j.worse_routes, std::vector<std::string>{"/a"});

  Evidence two;
  two.window = 120s;
  AddRoute(two, "/a", 60000, 1200, 1740);
  Judgement k = Judge(JudgeSettings(), two);
  EXPECT_EQ(k.verdict, JudgeVerdict::kPromote) << k.reason;
  const GateResult* a = RouteGate(k, "5xx", "/a");
  EXPECT_NEAR(a->margin, 0.011, 1e-12);
  EXPECT_NE(a->detail.find("testing 2.9% (1,740/60,000) vs running 2.0% (1,200/60,000), "
                           "margin 1.1%"),
            std::string::npos)
      << a->detail;
  EXPECT_NE(Gate(k, "5xx").detail.find("margin 1.1%"), std::string::npos);
}

// The margin is configurable per gate: a floor of 1 point on 5xx lets 0.9% through again.
TEST(JudgeTest, MarginIsPerGate) {
  Evidence e;
  e.window = 120s;
  AddRoute(e, "/a", 30000, 0, 0);
  e.testing_logs.errors = 600;
  e.running_logs.errors = 300;  // 2% against 1%, within 1.5 x 1% + 1 point but not + 0.1
  JudgeSettings s;
  EXPECT_EQ(Judge(s, e).verdict, JudgeVerdict::kReject);
  s.margin_log_errors.floor = 0.01;
  EXPECT_EQ(Judge(s, e).verdict, JudgeVerdict::kPromote) << Judge(s, e).reason;
  EXPECT_NEAR(Gate(Judge(s, e), "log_errors").margin, 0.015, 1e-12);
}

// Error lines that name their route are judged per route too, and the route is named.
TEST(JudgeTest, NamesARouteWhoseErrorsAreLogged) {
  Evidence e;
  e.window = 20s;
  AddRoute(e, "/api/items", 3300, 0, 0);
  AddRoute(e, "/api/orders", 3300, 0, 0);
  AddRoute(e, "/", 3300, 0, 0);
  e.testing_logs.errors = e.testing_logs.routed_errors = 66;
  e.testing_logs.route_errors["/api/items"] = 66;
  e.running_logs.errors = e.running_logs.routed_errors = 3;
  e.running_logs.route_errors["/"] = 3;
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(j.verdict, JudgeVerdict::kReject) << j.reason;
  EXPECT_EQ(j.worse_routes, std::vector<std::string>{"/api/items"});
  EXPECT_NE(j.reason.find("log_errors on /api/items: testing 2.0% (66/3,300) vs running 0.0% "
                          "(0/3,300)"),
            std::string::npos)
      << j.reason;
  EXPECT_EQ(Gate(j, "log_error_routes").culprits, std::vector<std::string>{"/api/items"});
}

// Without a route in any error line there is no per-route log gate, and it does not hold.
TEST(JudgeTest, LogErrorRoutesPassWithoutRoutes) {
  Evidence e = Traffic(3000, 0, 0);
  Judgement j = Judge(JudgeSettings(), e);
  EXPECT_EQ(Gate(j, "log_error_routes").outcome, GateOutcome::kPass);
  EXPECT_EQ(j.route_gates.size(), 2u);  // the 5xx and latency gates of /r0
}

// Holm-Bonferroni: the smallest p-value is multiplied by m, the next by m - 1, ..., and an
// adjusted p-value is never smaller than the one before it.
TEST(JudgeTest, HolmAdjustsStepDown) {
  std::vector<double> adjusted = HolmAdjusted({0.01, 0.04, 0.03, 0.005});
  ASSERT_EQ(adjusted.size(), 4u);
  EXPECT_NEAR(adjusted[0], 0.03, 1e-12);
  EXPECT_NEAR(adjusted[1], 0.06, 1e-12);
  EXPECT_NEAR(adjusted[2], 0.06, 1e-12);
  EXPECT_NEAR(adjusted[3], 0.02, 1e-12);
  EXPECT_EQ(HolmAdjusted({0.5, 0.9}), (std::vector<double>{1.0, 1.0}));
  EXPECT_TRUE(HolmAdjusted({}).empty());
}

// Figures read the way the issue writes them.
TEST(JudgeTest, FormatsRatesAndCounts) {
  EXPECT_EQ(FormatRate(0.02), "2.0%");
  EXPECT_EQ(FormatRate(0), "0.0%");
  EXPECT_EQ(FormatRate(0.0067), "0.67%");
  EXPECT_EQ(FormatRate(0.0005), "0.050%");
  EXPECT_EQ(FormatCount(3300), "3,300");
  EXPECT_EQ(FormatCount(999), "999");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
}

// A hundred identical candidates in a row, each judged the way the supervisor does (every
// 0.5 s over a growing window, defaults throughout): none is rejected. Traffic: 100 requests a
// second over twelve routes weighted 1/k, each route with its own 5xx, 4xx, error-line and
// warning rates, the same for running and testing; error lines name their route. 5xx, error
// lines and warnings are drawn for each side on its own; a 404 for a missing thing is the
// same on both. Seeded, so the figure is reproducible; docs/judge.md quotes it.
TEST(JudgeTest, IdenticalCandidatesAreNeverRejected) {
  struct RouteMix {
    std::string route;
    double weight, r5xx, r4xx, log_errors;
  };
  std::vector<RouteMix> mix;
  const double r5xx[] = {0, 0.001, 0.002, 0.005, 0.01, 0};
  const double r4xx[] = {0, 0.01, 0.03, 0.002};
  double total_weight = 0;
  for (int k = 1; k <= 12; ++k) {
    mix.push_back(
        {"/route" + std::to_string(k), 1.0 / k, r5xx[k % 6], r4xx[k % 4], r5xx[k % 6] + 0.002});
    total_weight += 1.0 / k;
  }
  std::vector<double> weights;
  for (const auto& m : mix) weights.push_back(m.weight / total_weight);

  const JudgeSettings settings;
  const int kCandidates = 100;
  const int kRequestsPerLook = 50;  // 100 a second, a look every 0.5 s
  std::mt19937_64 rng(20260519);
  int rejected = 0, promoted = 0;
  std::vector<double> promoted_after_s;
  for (int c = 0; c < kCandidates; ++c) {
    Evidence e;
    Judgement j;
    for (int look = 1; look <= 2 * settings.max_window.count() + 1; ++look) {
      std::discrete_distribution<int> pick(weights.begin(), weights.end());
      for (int r = 0; r < kRequestsPerLook; ++r) {
        const RouteMix& m = mix[pick(rng)];
        // A request for something that does not exist gets 404 from both versions; 5xx (and
        // a little 4xx, e.g. rate limits) strike each side on its own.
        const bool missing = std::bernoulli_distribution(m.r4xx)(rng);
        auto status = [&] {
          double u = std::uniform_real_distribution<>(0, 1)(rng);
          return u < m.r5xx ? 500 : missing || u < m.r5xx + 0.001 ? 404 : 200;
        };
        Pair p;
        p.route = m.route;
        p.running_status = status();
        p.testing_status = status();
        e.pairs.Add(p);
        for (LogCounts* logs : {&e.running_logs, &e.testing_logs}) {
          if (std::bernoulli_distribution(m.log_errors)(rng)) {
            ++logs->errors;
            ++logs->routed_errors;
            ++logs->route_errors[m.route];
          }
          if (std::bernoulli_distribution(0.02)(rng)) ++logs->warnings;
        }
      }
      e.running_requests = e.testing_requests = e.pairs.total().pairs;
      e.window = std::chrono::seconds(look / 2);
      j = Judge(settings, e);
      if (j.verdict != JudgeVerdict::kWait) break;
    }
    if (j.verdict == JudgeVerdict::kReject) {
      ++rejected;
      ADD_FAILURE() << "candidate " << c << " rejected: " << j.reason;
    }
    if (j.verdict == JudgeVerdict::kPromote) {
      ++promoted;
      promoted_after_s.push_back(static_cast<double>(e.window.count()));
    }
  }
  std::sort(promoted_after_s.begin(), promoted_after_s.end());
  std::printf(
      "identical candidates: %d, rejected %d, promoted %d; promoted after %.0f s median, "
      "%.0f s at most\n",
      kCandidates, rejected, promoted,
      promoted_after_s.empty() ? 0.0 : promoted_after_s[promoted_after_s.size() / 2],
      promoted_after_s.empty() ? 0.0 : promoted_after_s.back());
  EXPECT_EQ(rejected, 0);
  EXPECT_EQ(promoted, kCandidates);
}

// The quantiles the docs quote.
TEST(JudgeTest, NormalQuantiles) {
  EXPECT_NEAR(ZForConfidence(0.95), 1.6449, 1e-4);
  EXPECT_NEAR(ZForConfidence(0.99), 2.3263, 1e-4);
  EXPECT_NEAR(ZForConfidence(0.5), 0.0, 1e-9);
}

}  // namespace
}  // namespace yoke
