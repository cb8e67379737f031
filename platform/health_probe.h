// Health checks of instances on loopback: a TCP connect, or an HTTP GET that must answer 2xx.
// Each probe is bounded by its timeout. Thread-safety: stateless, callable from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace yoke {

struct ProbeResult {
  bool healthy = false;
  std::string detail;  // "connection refused", "HTTP 503", "timed out"
};

class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  // `http_path` empty: a TCP connect to 127.0.0.1:port is enough.
  virtual ProbeResult Check(uint16_t port, const std::string& http_path,
                            std::chrono::milliseconds timeout) = 0;
};

std::unique_ptr<HealthProbe> MakeHealthProbe();

// True when nothing listens on `port` on any address and yoke may give it to an instance.
bool IsPortFree(uint16_t port);

}  // namespace yoke
