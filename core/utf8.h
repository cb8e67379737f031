// Text from outside (request paths folded into routes, log lines, files, git's messages) may hold
// bytes that are not UTF-8, which a proto3 string may not (/status is a status.proto message).
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace yoke {

// `text` with each byte that does not begin a valid UTF-8 sequence (no overlong forms,
// surrogates or code points past U+10FFFF) replaced by U+FFFD, as a browser would show it.
std::string ValidUtf8(std::string_view text);

}  // namespace yoke
