// Which requests are mirrored to testing. Pure; thread-safe once constructed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "proto/yoke/config.pb.h"

namespace yoke {

// Why a request was not mirrored. Each reason is a metric label.
enum class MirrorDrop { kDisabled, kNoTesting, kMethod, kBodyTooLarge, kInFlightLimit };
std::string_view MirrorDropName(MirrorDrop reason);
inline constexpr MirrorDrop kAllMirrorDrops[] = {MirrorDrop::kDisabled, MirrorDrop::kNoTesting,
                                                 MirrorDrop::kMethod, MirrorDrop::kBodyTooLarge,
                                                 MirrorDrop::kInFlightLimit};

struct MirrorRouteAllowance {
  std::string route;  // a folded route, or a route pattern as configured
  std::set<std::string> methods;
};

struct MirrorPolicy {
  bool enabled = true;
  std::set<std::string> methods = {"GET", "HEAD", "OPTIONS"};            // mirrored on every route
  std::vector<MirrorRouteAllowance> allow;                               // more methods, per route
  std::vector<std::string> strip_headers = {"cookie", "authorization"};  // lower case
  // Routes (folded, or patterns as configured) whose GET/HEAD/OPTIONS copies keep every header:
  // read-only routes where testing may see the user's credentials (docs/proxy.md).
  std::set<std::string> keep_credentials;
  uint64_t max_body_bytes = 64 * 1024;
  uint32_t max_in_flight = 256;
  std::chrono::milliseconds timeout{10000};
  // Body sampling for the body_diff gate (proxy/body_sample.h): the share of mirrored GETs
  // sampled (0: off), the bytes read per body, and the samples in flight at most.
  double body_sample_rate = 0.01;
  uint64_t body_sample_max_bytes = 64 * 1024;
  uint32_t body_sample_in_flight = 8;
};

// The policy a config's `mirror` block (or meta's override of it) describes.
MirrorPolicy MirrorPolicyFrom(const MirrorSettings& settings);

// Whether a request may be mirrored, by method, route and body. `body_bytes` is nullopt for
// a body of unknown length (chunked), which is never mirrored. The in-flight limit is the
// proxy's to check, at the moment it sends.
std::optional<MirrorDrop> CheckMirror(const MirrorPolicy& policy, bool have_testing,
                                      std::string_view method, std::string_view route,
                                      std::optional<uint64_t> body_bytes);

// The headers to remove from the copy of a request: none for a safe method on a route in
// `keep_credentials`, else `strip_headers`.
const std::vector<std::string>& StripHeadersFor(const MirrorPolicy& policy, std::string_view method,
                                                std::string_view route);

}  // namespace yoke
