// The judge: turns the evidence of a window into promote, reject or wait, with the figures of
// every gate, overall and per route, so that a reader of the decision sees why. Pure: the
// window's length and every count come in as values; no clock, no I/O. Judge() is a plain
// function and safe to call from any thread. The math is in docs/judge.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/log_counts.h"
#include "core/pair_stats.h"

namespace yoke {

// How much worse testing's rate may be than running's before it counts as worse: testing may
// be at most (1 + relative) x running's rate plus `floor`. With running at p_r the margin is
// delta = relative * p_r + floor.
struct Margin {
  double relative = 0.5;
  double floor = 0.001;  // 0.1 percentage points

  double For(double running_rate) const { return relative * running_rate + floor; }
};

struct JudgeSettings {
  std::chrono::seconds min_window{60};
  uint64_t min_pairs = 300;
  std::chrono::seconds max_window{1800};
  bool reject_at_max_window = true;  // false: keep testing past max_window
  // One-sided. "Clearly worse": the family-wise error over every rate test of the window
  // (Holm-Bonferroni) is at most 1 - confidence. "Not worse": each test at that level.
  double confidence = 0.95;
  Margin margin_5xx;         // 5xx and no answer, overall and per route
  Margin margin_4xx;         // 4xx, overall and per route (lost_routes)
  Margin margin_log_errors;  // error lines per request, overall and per route
  Margin margin_log_warnings{0.5, 0.05};
  uint64_t min_events = 5;         // bad events testing must show before a rate gate fails
  uint64_t route_min_pairs = 300;  // pairs before a route's own 5xx/log gates are judged
  uint64_t lost_route_min = 3;     // 4xx-where-running-was-ok on a route before it is "lost"
  uint64_t new_kind_min = 3;       // occurrences before a new error kind rejects
  double max_latency_ratio = 0;    // > 0: mean testing latency over running's is a gate
};

// kNotJudged: a route with fewer pairs than route_min_pairs; its figures are reported only.
enum class GateOutcome { kPass, kFail, kWait, kNotJudged };
std::string_view GateOutcomeName(GateOutcome outcome);

struct GateResult {
  std::string name;   // "5xx", "lost_routes", ...; per route: the gate ("5xx", "log_errors")
  std::string route;  // per-route gates only
  GateOutcome outcome = GateOutcome::kWait;
  uint64_t testing_count = 0;
  uint64_t testing_total = 0;
  uint64_t running_count = 0;
  uint64_t running_total = 0;
  double testing_rate = 0;
  double running_rate = 0;
  double margin = 0;      // delta: how much worse testing may be (docs/judge.md)
  double z = 0;           // the test statistic
  double p_value = 1;     // one-sided, for "worse by more than the margin"
  double adjusted_p = 1;  // p_value after Holm-Bonferroni over the window's family of tests
  std::string detail;
  std::vector<std::string> culprits;  // lost routes, worse routes, new error kinds
};

struct Evidence {
  std::chrono::seconds window{0};  // since testing became healthy
  PairStats pairs;
  LogCounts running_logs;         // since the window began (kinds: since running started)
  LogCounts testing_logs;         // since testing started, startup apart
  uint64_t running_requests = 0;  // user requests running served in the window
  uint64_t testing_requests = 0;  // mirrored requests testing answered in the window
  std::map<std::string, uint64_t> running_kinds_ever;  // every error kind running has shown
};

enum class JudgeVerdict { kWait, kPromote, kReject };

struct Judgement {
  JudgeVerdict verdict = JudgeVerdict::kWait;
  std::string reason;
  std::vector<GateResult> gates;          // overall gates, in the order of docs/judge.md
  std::vector<GateResult> route_gates;    // per route: 5xx, then log_errors; by route name
  std::vector<std::string> worse_routes;  // routes whose own gate failed, by name
};

Judgement Judge(const JudgeSettings& settings, const Evidence& evidence);

// The rate test behind the gates (exposed for tests and docs), as one test alone (no
// correction): compares testing's x_t of n_t with running's x_r of n_r. kFail: testing is worse
// by more than the margin, with the given confidence and at least `min_events` bad events;
// kPass: testing is not worse by more than the margin, with that confidence; kWait: neither.
GateResult CompareRates(std::string name, uint64_t x_t, uint64_t n_t, uint64_t x_r, uint64_t n_r,
                        Margin margin, double confidence, uint64_t min_events);

// Holm-Bonferroni step-down adjusted p-values, in the order given: a test rejects at family-wise
// level alpha when its adjusted p-value is at most alpha.
std::vector<double> HolmAdjusted(const std::vector<double>& p_values);

// The pairs an error-free candidate needs (no bad event on either side) before a rate test can
// show "not worse" within `margin_floor` at `confidence` (docs/judge.md). `poisson`: the
// log-line (event rate) form of the test.
uint64_t PairsToShowClean(double margin_floor, double confidence, bool poisson);

// The one-sided normal quantile z such that P(Z > z) = 1 - confidence.
double ZForConfidence(double confidence);
// P(Z > z) for a standard normal Z.
double NormalUpperTail(double z);

// "2.0%", "0.67%", "0.050%", "0.0%": the rates of decisions and gate figures.
std::string FormatRate(double rate);
// "3,300": counts in gate figures.
std::string FormatCount(uint64_t count);

}  // namespace yoke
