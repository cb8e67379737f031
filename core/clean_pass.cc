#include "core/clean_pass.h"

#include <algorithm>
#include <cmath>

namespace yoke {

uint64_t StatisticalCleanPairs(const JudgeSettings& s, std::string* gate) {
  struct Candidate {
    const char* name;
    double floor;
    bool poisson;
  };
  // The rate gates of docs/judge.md; log lines are counted per request, close to per pair.
  const Candidate gates[] = {{"5xx", s.margin_5xx.floor, false},
                             {"4xx", s.margin_4xx.floor, false},
                             {"log_errors", s.margin_log_errors.floor, true},
                             {"log_warnings", s.margin_log_warnings.floor, true}};
  uint64_t most = 0;
  for (const Candidate& c : gates) {
    if (!(c.floor > 0)) continue;  // no floor: no clean pass bound of its own
    uint64_t n = PairsToShowClean(c.floor, s.confidence, c.poisson);
    if (n > most) {
      most = n;
      if (gate) *gate = c.name;
    }
  }
  return most;
}

uint64_t CleanPassPairs(const JudgeSettings& settings) {
  return std::max(settings.min_pairs, StatisticalCleanPairs(settings));
}

CleanPassEstimate EstimateCleanPass(uint64_t needed, double pairs, double window_s,
                                    double min_window_s) {
  CleanPassEstimate e;
  e.needed = needed;
  const double have = std::isfinite(pairs) && pairs > 0 ? pairs : 0;
  e.left = have >= static_cast<double>(needed) ? 0 : needed - static_cast<uint64_t>(have);
  const double window = std::isfinite(window_s) && window_s > 0 ? window_s : 0;
  const double min_window = std::isfinite(min_window_s) && min_window_s > 0 ? min_window_s : 0;
  if (window > 0 && have > 0) e.pairs_per_s = have / window;
  const double for_time = std::max(0.0, min_window - window);
  if (e.left == 0) {
    e.seconds_left = for_time;
  } else if (e.pairs_per_s > 0) {
    e.seconds_left = std::max(for_time, static_cast<double>(e.left) / e.pairs_per_s);
  }
  return e;
}

}  // namespace yoke
