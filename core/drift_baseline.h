// The drift baseline: what the last promoted versions showed while they were judged, read from
// their decisions (testing_rates) and pooled, so the judge can bound how far many promotions,
// each within the margin of the one before, may drift (docs/judge.md). Pure functions.
#pragma once

#include <cstdint>

#include "core/decision_listing.h"
#include "core/judge.h"
#include "proto/yoke/records.pb.h"

namespace yoke {

// The last `promotions` PROMOTE decisions in `listing` (newest first) that recorded
// testing_rates, pooled. Decisions that do not parse, other verdicts and promotions without
// rates (hand promotions before issue 18) are skipped. Empty when `promotions` is 0.
DriftBaseline PoolPromotions(const DecisionListing& listing, uint32_t promotions);

// The rates of one side over a window, for a decision.
VersionRates RatesOf(const std::string& version, uint64_t pairs, uint64_t errors_5xx,
                     uint64_t requests, uint64_t log_errors, const LatencyHistogram& latency);

}  // namespace yoke
