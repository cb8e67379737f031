// Port selection from the configured range. Pure: whether a port is free is asked of a
// callback, so the supervisor can test with a real bind and tests with a set.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

namespace yoke {

struct PortRangeSpec {
  uint16_t first = 0;
  uint16_t last = 0;
};

// The first free port after `previous` (wrapping round the range), so that a port just given
// up is the last one tried again. Returns nullopt when every port in the range is taken.
std::optional<uint16_t> PickPort(PortRangeSpec range, uint16_t previous,
                                 const std::function<bool(uint16_t)>& is_free);

}  // namespace yoke
