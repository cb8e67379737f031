#include "core/utf8.h"

#include <cstdint>

namespace yoke {

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = n > 0 && i + n <= text.size();
    for (size_t k = 1; valid && k < n; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (valid && n > 1) {  // no overlong forms, surrogates or code points past U+10FFFF
      static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};  // by length
      uint32_t cp = c & (0x7F >> n);
      for (size_t k = 1; k < n; ++k) {
        cp = cp << 6 | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      }
      valid = cp >= kSmallest[n] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (valid) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace yoke
