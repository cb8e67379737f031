// Running totals over pairs, overall and per route: what the status page shows and what the
// judge reads. Pure; not thread-safe (the owner locks).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/evidence.h"
#include "core/latency_histogram.h"

namespace yoke {

struct PairCounts {
  uint64_t pairs = 0;
  uint64_t testing_5xx_running_not = 0;  // testing failed where running did not
  uint64_t testing_4xx_running_ok = 0;   // a route the candidate lost (running 2xx/3xx)
  uint64_t testing_better = 0;           // testing 2xx/3xx where running was 4xx/5xx
  uint64_t testing_no_answer = 0;        // refused, reset, timed out
  uint64_t running_errors = 0;           // running 5xx
  uint64_t testing_errors = 0;           // testing 5xx or no answer
  uint64_t running_4xx = 0;
  uint64_t testing_4xx = 0;
  uint64_t same_status = 0;
  // Pairs whose copy lost its credentials and where testing answered 401/403 (running did not):
  // left out of testing's 4xx counts, since the stripping caused them.
  uint64_t testing_auth_stripped = 0;
  int64_t running_latency_us_sum = 0;
  int64_t testing_latency_us_sum = 0;
  // Both sides' latencies on the pairs testing answered: the latency gate's distributions.
  LatencyHistogram running_latency;
  LatencyHistogram testing_latency;

  void Add(const Pair& pair);
};

class PairStats {
 public:
  // Routes beyond `max_routes` are counted under "(other)", so a flood of odd paths cannot
  // grow memory without bound.
  explicit PairStats(size_t max_routes = 500) : max_routes_(max_routes) {}

  void Add(const Pair& pair);
  const PairCounts& total() const { return total_; }
  const std::map<std::string, PairCounts>& routes() const { return routes_; }

 private:
  size_t max_routes_;
  PairCounts total_;
  std::map<std::string, PairCounts> routes_;
};

}  // namespace yoke
