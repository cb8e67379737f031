// host:port addresses from the config. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace yoke {

struct HostPort {
  std::string host;  // "0.0.0.0", "127.0.0.1", "::1" (brackets removed), "localhost"
  uint16_t port = 0;
};

// Parses "host:port" or "[v6]:port". Port 0 is allowed (bind any free port).
StatusOr<HostPort> ParseHostPort(std::string_view text);

}  // namespace yoke
