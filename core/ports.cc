#include "core/ports.h"

namespace yoke {

std::optional<uint16_t> PickPort(PortRangeSpec range, uint16_t previous,
                                 const std::function<bool(uint16_t)>& is_free) {
  if (range.first == 0 || range.first > range.last) return std::nullopt;
  const uint32_t size = uint32_t{range.last} - range.first + 1;
  uint32_t start = 0;
  if (previous >= range.first && previous <= range.last) start = previous - range.first + 1;
  for (uint32_t i = 0; i < size; ++i) {
    auto port = static_cast<uint16_t>(range.first + (start + i) % size);
    if (is_free(port)) return port;
  }
  return std::nullopt;
}

}  // namespace yoke
