// The judge: turns the evidence of a window into promote, reject or wait, with the figures of
// every gate, so that a reader of the decision sees why. Pure: the window's length and every
// count come in as values. The math is in docs/judge.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/log_counts.h"
#include "core/pair_stats.h"

namespace yoke {

struct JudgeSettings {
  std::chrono::seconds min_window{60};
  uint64_t min_pairs = 300;
  std::chrono::seconds max_window{1800};
  bool reject_at_max_window = true;  // false: keep testing past max_window
  double confidence = 0.95;          // one-sided, for both "clearly worse" and "not worse"
  double tolerance = 0.01;           // absolute margin on a rate (1 percentage point)...
  double relative_tolerance = 0.5;   // ...or this fraction of running's rate, if larger
  double warn_tolerance = 0.05;      // absolute margin for warnings per request
  uint64_t min_events = 5;           // bad events testing must show before an early reject
  uint64_t lost_route_min = 3;       // 4xx-where-running-was-ok on a route before it is "lost"
  uint64_t new_kind_min = 3;         // occurrences before a new error kind rejects
  double max_latency_ratio = 0;      // > 0: mean testing latency over running's is a gate
};

enum class GateOutcome { kPass, kFail, kWait };
std::string_view GateOutcomeName(GateOutcome outcome);

struct GateResult {
  std::string name;
  GateOutcome outcome = GateOutcome::kWait;
  uint64_t testing_count = 0;
  uint64_t testing_total = 0;
  uint64_t running_count = 0;
  uint64_t running_total = 0;
  double testing_rate = 0;
  double running_rate = 0;
  double margin = 0;  // how much worse testing may be
  double z = 0;       // the test statistic (docs/judge.md)
  std::string detail;
  std::vector<std::string> culprits;  // lost routes, new error kinds
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
  std::vector<GateResult> gates;
};

Judgement Judge(const JudgeSettings& settings, const Evidence& evidence);

// The rate test behind the gates (exposed for tests and docs): compares testing's x_t of n_t
// with running's x_r of n_r. kFail: testing is worse by more than the margin, with the given
// confidence and at least `min_events` bad events; kPass: testing is not worse by more than
// the margin, with that confidence; kWait: neither yet.
GateResult CompareRates(std::string name, uint64_t x_t, uint64_t n_t, uint64_t x_r, uint64_t n_r,
                        double abs_margin, double rel_margin, double confidence,
                        uint64_t min_events);

// The one-sided normal quantile z such that P(Z > z) = 1 - confidence.
double ZForConfidence(double confidence);

}  // namespace yoke
