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

#include "core/body_diff.h"
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
  // > 0: the latency rank test is a gate, overall and per judged route: testing may be slower
  // than running in at most 0.5 + this of all (testing, running) latency pairs.
  double latency_max_effect = 0;
  // false: a candidate whose major version differs from running's waits for a person once every
  // gate passes (core/version.h IsMajorVersionChange).
  bool auto_promote_major = false;
  // body_diff: a route's path is judged once the route has this many body samples; it fails
  // when running and testing differ on it more than running and itself by this margin.
  uint64_t body_diff_min_samples = 20;
  Margin margin_body_diff{1.0, 0.05};
  // Read by the supervisor: how many promoted versions the drift baseline pools (0: none).
  uint32_t drift_promotions = 5;
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
  // The latency gates: each side's quantiles (ms) and the rank test's share of pairs in which
  // testing was slower (0.5: alike).
  double testing_p50_ms = 0, testing_p95_ms = 0, testing_p99_ms = 0;
  double running_p50_ms = 0, running_p95_ms = 0, running_p99_ms = 0;
  double slower_share = 0;
};

// What earlier promoted versions showed while they were judged, pooled: the drift gates compare
// the candidate with it as well as with running, so that many promotions, each within the
// margin of the one before, cannot add up (docs/judge.md).
struct DriftBaseline {
  std::vector<std::string> versions;  // the promoted versions pooled, newest first
  uint64_t pairs = 0;                 // their pairs...
  uint64_t errors_5xx = 0;            // ...where they answered 5xx or not at all
  uint64_t requests = 0;              // the mirrored requests they answered...
  uint64_t log_errors = 0;            // ...and the error lines they logged
};

struct Evidence {
  std::chrono::seconds window{0};  // since testing became healthy
  PairStats pairs;
  LogCounts running_logs;         // since the window began (kinds: since running started)
  LogCounts testing_logs;         // since testing started, startup apart
  uint64_t running_requests = 0;  // user requests running served in the window
  uint64_t testing_requests = 0;  // mirrored requests testing answered in the window
  std::map<std::string, uint64_t> running_kinds_ever;  // every error kind running has shown
  std::string running_version;                         // for judge.auto_promote_major
  std::string testing_version;
  DriftBaseline baseline;  // empty (no versions): no promotion recorded yet
  BodyDiffStats bodies;    // sampled bodies, per route and path
};

enum class JudgeVerdict { kWait, kPromote, kReject };

struct Judgement {
  JudgeVerdict verdict = JudgeVerdict::kWait;
  std::string reason;
  std::vector<GateResult> gates;          // overall gates, in the order of docs/judge.md
  std::vector<GateResult> route_gates;    // per route: 5xx, then log_errors; by route name
  std::vector<std::string> worse_routes;  // routes whose own gate failed, by name
  // Every gate passed, but the candidate is a new major version and judge.auto_promote_major is
  // false: the verdict stays kWait until a person runs `yoke promote`.
  bool awaiting_person = false;
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
