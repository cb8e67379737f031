// Where the proxy sends traffic: an immutable snapshot the supervisor publishes and the proxy
// reads per request. A switch is one Publish(): requests already under way finish on the
// upstream they started with; new ones take the new snapshot.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/mirror_policy.h"

namespace yoke {

struct Upstream {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string version;  // for status pages and metrics labels
  bool operator==(const Upstream& other) const { return host == other.host && port == other.port; }
};

struct UpstreamSnapshot {
  std::optional<Upstream> running;  // none: users get 502
  std::optional<Upstream> testing;  // none: nothing is mirrored
  // Which requests are mirrored from now on; null: the proxy's configured policy.
  std::shared_ptr<const MirrorPolicy> mirror{};
};

// Implemented by the proxy. Thread-safe.
class TrafficSwitch {
 public:
  virtual ~TrafficSwitch() = default;
  virtual void Publish(UpstreamSnapshot snapshot) = 0;
  // User requests under way to `upstream` (to know when an old running has drained).
  virtual uint64_t InFlight(const Upstream& upstream) const = 0;
  // Requests `upstream` has answered (user requests for running, copies for testing).
  virtual uint64_t Served(const Upstream& upstream) const = 0;
};

}  // namespace yoke
