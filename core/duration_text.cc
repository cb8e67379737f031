#include "core/duration_text.h"

#include <cctype>
#include <string>

namespace yoke {

StatusOr<std::chrono::milliseconds> ParseDurationText(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto bad = [&] {
    return Fail("not a duration: " + quoted + " (write 90s, 10m, 1h30m, or seconds)");
  };
  if (text.empty()) return bad();
  constexpr int64_t kMaxMs = int64_t{100} * 365 * 86400 * 1000;
  int64_t total_ms = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad();
    int64_t value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      value = value * 10 + (text[i] - '0');
      if (value > kMaxMs) return bad();
      ++i;
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit.empty()) {
      if (any || i != text.size()) return bad();  // "90" alone is seconds; "1h30" is not
      scale = 1000;
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60 * 1000;
    } else if (unit == "h") {
      scale = 3600 * 1000;
    } else if (unit == "d") {
      scale = 86400 * 1000;
    } else {
      return bad();
    }
    if (value > kMaxMs / scale) return bad();
    total_ms += value * scale;
    if (total_ms > kMaxMs) return bad();
    any = true;
  }
  return std::chrono::milliseconds(total_ms);
}

}  // namespace yoke
