// How many pairs a clean candidate needs before the judge can promote it, and how long that
// takes at the current rate: the "still needs" of `yoke status` and the min_pairs warning of
// `yoke check-config`. The statistics are the judge's own (PairsToShowClean, docs/judge.md).
// Pure; thread-safety: free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/judge.h"

namespace yoke {

// The pairs an error-free candidate (against an error-free running) needs before every rate
// gate can say "not worse" at the settings' margins and confidence: the largest of the gates'
// PairsToShowClean. With errors on running's side the margins widen and fewer suffice, so this
// is the upper figure. `gate`, when given, gets the name of the gate that needs the most.
uint64_t StatisticalCleanPairs(const JudgeSettings& settings, std::string* gate = nullptr);

// What a promotion needs at least: min_pairs, or the statistical figure when it is larger.
uint64_t CleanPassPairs(const JudgeSettings& settings);

struct CleanPassEstimate {
  uint64_t needed = 0;  // CleanPassPairs
  uint64_t left = 0;    // needed minus the pairs so far, or 0
  double pairs_per_s = 0;
  // Until both the pairs and min_window are there, at the window's rate so far; nothing while
  // no rate is known yet (no pairs, or no time).
  std::optional<double> seconds_left;
};

// From the window's figures as /status gives them.
CleanPassEstimate EstimateCleanPass(uint64_t needed, double pairs, double window_s,
                                    double min_window_s);

}  // namespace yoke
