#include "core/pair_stats.h"

namespace yoke {
namespace {

bool Ok(int status) { return status >= 200 && status < 400; }

}  // namespace

void PairCounts::Add(const Pair& pair) {
  ++pairs;
  running_latency_us_sum += pair.running_latency.count();
  if (pair.running_status >= 500) ++running_errors;
  if (pair.running_status >= 400 && pair.running_status < 500) ++running_4xx;
  if (pair.testing_failed) {
    ++testing_no_answer;
    ++testing_errors;
    return;
  }
  running_latency.Add(pair.running_latency);
  testing_latency.Add(pair.testing_latency);
  if (pair.testing_status >= 500) ++testing_errors;
  if (pair.credentials_stripped && (pair.testing_status == 401 || pair.testing_status == 403) &&
      pair.running_status != pair.testing_status) {
    // An anonymous copy refused where the logged-in original was not: no evidence either way.
    ++testing_auth_stripped;
    testing_latency_us_sum += pair.testing_latency.count();
    return;
  }
  if (pair.testing_status >= 400 && pair.testing_status < 500) ++testing_4xx;
  testing_latency_us_sum += pair.testing_latency.count();
  if (pair.testing_status == pair.running_status) ++same_status;
  if (pair.testing_status >= 500 && pair.running_status < 500) ++testing_5xx_running_not;
  if (pair.testing_status >= 400 && pair.testing_status < 500 && Ok(pair.running_status)) {
    ++testing_4xx_running_ok;
  }
  if (Ok(pair.testing_status) && pair.running_status >= 400) ++testing_better;
}

void PairStats::Add(const Pair& pair) {
  total_.Add(pair);
  auto it = routes_.find(pair.route);
  if (it == routes_.end() && routes_.size() >= max_routes_)
    it = routes_.try_emplace("(other)").first;
  if (it == routes_.end()) it = routes_.try_emplace(pair.route).first;
  it->second.Add(pair);
}

}  // namespace yoke
