// Java-style .properties files: rewrite the port key of a copy. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace yoke {

// Returns `text` with the value of `key` set to `port`. Every other line, comment and
// separator is kept byte for byte. `key=v`, `key: v` and `key v` are understood; a missing
// key is appended as `key=port`. Every occurrence is rewritten, since the last one wins.
std::string RewritePropertiesPort(std::string_view text, std::string_view key, uint16_t port);
// The same for any value.
std::string SetPropertyValue(std::string_view text, std::string_view key, std::string_view value);

}  // namespace yoke
