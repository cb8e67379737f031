// Health checks of instances on loopback: a TCP connect, or an HTTP GET that must answer 2xx,
// both through the HTTP client (platform/http_client.h). Each probe is bounded by its timeout.
// Thread-safety: stateless, callable from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace yoke {

struct ProbeResult {
  bool healthy = false;
  // "HTTP 503", "tcp connect", or what went wrong: "cannot connect to 127.0.0.1:8080:
  // Connection refused", "no answer from 127.0.0.1:8080 within 500 ms"
  std::string detail;
};

class HealthProbe {
 public:
  virtual ~HealthProbe() = default;
  // `http_path` empty: a TCP connect to 127.0.0.1:port is enough.
  virtual ProbeResult Check(uint16_t port, const std::string& http_path,
                            std::chrono::milliseconds timeout) = 0;
};

std::unique_ptr<HealthProbe> MakeHealthProbe();

// True when nothing listens on `port` on any address and yoke may give it to an instance:
// a bind with SO_REUSEADDR, as servers bind, so TIME_WAIT connections do not hold a port.
bool IsPortFree(uint16_t port);

}  // namespace yoke
