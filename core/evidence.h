// Evidence from the proxy: one Pair per mirrored request, as answered by running and by
// testing. The proxy produces pairs; the judge consumes them through an EvidenceSink.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/body_diff.h"

namespace yoke {

struct Pair {
  std::string method;  // "GET"
  std::string route;   // the path with ids folded (core/route.h)
  int running_status = 0;
  int testing_status = 0;  // 0 when testing_failed
  std::chrono::microseconds running_latency{0};
  std::chrono::microseconds testing_latency{0};
  // Testing gave no answer: refused, reset, timed out, or a malformed response.
  bool testing_failed = false;
  std::string testing_error;  // "timeout", "connect", "read", ...
  // The mirror copy went without a header the request carried (mirror.strip_headers: Cookie,
  // Authorization): testing saw an anonymous request where running saw a logged-in one, so a
  // 401/403 from testing is the stripping's doing, not the candidate's (docs/judge.md).
  bool credentials_stripped = false;
};

// Receives pairs. Implementations must be thread-safe: the proxy calls OnPair from its I/O
// threads, and must never be slowed by it (no I/O, no long locks).
class EvidenceSink {
 public:
  virtual ~EvidenceSink() = default;
  virtual void OnPair(Pair pair) = 0;
  // A sampled request's three bodies (proxy/body_sample.h); same rules as OnPair.
  virtual void OnBodySample(BodySample sample) {}
};

}  // namespace yoke
