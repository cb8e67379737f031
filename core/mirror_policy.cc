#include "core/mirror_policy.h"

namespace yoke {

std::string_view MirrorDropName(MirrorDrop reason) {
  switch (reason) {
    case MirrorDrop::kDisabled:
      return "disabled";
    case MirrorDrop::kNoTesting:
      return "no_testing";
    case MirrorDrop::kMethod:
      return "method";
    case MirrorDrop::kBodyTooLarge:
      return "body_too_large";
    case MirrorDrop::kInFlightLimit:
      return "in_flight_limit";
  }
  return "unknown";
}

std::optional<MirrorDrop> CheckMirror(const MirrorPolicy& policy, bool have_testing,
                                      std::string_view method, std::string_view route,
                                      std::optional<uint64_t> body_bytes) {
  if (!policy.enabled) return MirrorDrop::kDisabled;
  if (!have_testing) return MirrorDrop::kNoTesting;
  bool allowed = policy.methods.contains(std::string(method));
  for (const auto& allowance : policy.allow) {
    if (allowed) break;
    allowed = allowance.route == route && allowance.methods.contains(std::string(method));
  }
  if (!allowed) return MirrorDrop::kMethod;
  if (!body_bytes || *body_bytes > policy.max_body_bytes) return MirrorDrop::kBodyTooLarge;
  return std::nullopt;
}

const std::vector<std::string>& StripHeadersFor(const MirrorPolicy& policy, std::string_view method,
                                                std::string_view route) {
  static const std::vector<std::string> kNone;
  const bool safe = method == "GET" || method == "HEAD" || method == "OPTIONS";
  if (safe && !policy.keep_credentials.empty() &&
      policy.keep_credentials.contains(std::string(route))) {
    return kNone;
  }
  return policy.strip_headers;
}

MirrorPolicy MirrorPolicyFrom(const MirrorSettings& m) {
  MirrorPolicy policy;
  policy.enabled = m.enabled();
  if (m.methods_size() > 0) policy.methods = {m.methods().begin(), m.methods().end()};
  for (const auto& allow : m.allow()) {
    policy.allow.push_back({allow.route(), {allow.methods().begin(), allow.methods().end()}});
  }
  if (m.strip_nothing()) {
    policy.strip_headers.clear();
  } else if (m.strip_headers_size() > 0) {
    policy.strip_headers.assign(m.strip_headers().begin(), m.strip_headers().end());
  }
  policy.keep_credentials = {m.keep_credentials().begin(), m.keep_credentials().end()};
  policy.max_body_bytes = m.max_body_bytes();
  policy.max_in_flight = m.max_in_flight();
  policy.timeout = std::chrono::milliseconds(m.timeout_ms());
  policy.body_sample_rate = m.body_sample_rate();
  policy.body_sample_max_bytes = m.body_sample_max_bytes();
  policy.body_sample_in_flight = m.body_sample_in_flight();
  return policy;
}

}  // namespace yoke
