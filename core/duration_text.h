// Durations as operators type them on a command line: "90", "90s", "10m", "1h30m", "2h".
// Pure; thread-safety: free functions.
#pragma once

#include <chrono>
#include <string_view>

#include "core/status.h"

namespace yoke {

// A bare number is seconds. Units: ms, s, m, h, d; parts add up ("1h30m"). Fails on anything
// else, on an empty text and on a total beyond 100 years.
StatusOr<std::chrono::milliseconds> ParseDurationText(std::string_view text);

}  // namespace yoke
