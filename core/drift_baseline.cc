#include "core/drift_baseline.h"

namespace yoke {

DriftBaseline PoolPromotions(const DecisionListing& listing, uint32_t promotions) {
  DriftBaseline out;
  for (const DecisionEntry& entry : listing.entries) {
    if (out.versions.size() >= promotions) break;
    if (!entry.problem.empty()) continue;
    const Decision& d = entry.decision;
    if (d.verdict() != Verdict::PROMOTE || !d.has_testing_rates()) continue;
    const VersionRates& r = d.testing_rates();
    if (r.pairs() == 0 && r.requests() == 0) continue;
    out.versions.push_back(d.to_version());
    out.pairs += r.pairs();
    out.errors_5xx += r.errors_5xx();
    out.requests += r.requests();
    out.log_errors += r.log_errors();
  }
  return out;
}

VersionRates RatesOf(const std::string& version, uint64_t pairs, uint64_t errors_5xx,
                     uint64_t requests, uint64_t log_errors, const LatencyHistogram& latency) {
  VersionRates r;
  r.set_version(version);
  r.set_pairs(pairs);
  r.set_errors_5xx(errors_5xx);
  r.set_requests(requests);
  r.set_log_errors(log_errors);
  r.set_p50_ms(latency.QuantileMs(0.5));
  r.set_p95_ms(latency.QuantileMs(0.95));
  r.set_p99_ms(latency.QuantileMs(0.99));
  return r;
}

}  // namespace yoke
