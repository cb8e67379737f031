// Rotation of an instance's stdout and stderr files. The instance holds them open O_APPEND (the
// launcher opened them and dup2'd them onto fds 1 and 2), so a rename would not take its writes
// away: yoke copies the file to <file>.1 (older copies shifting to .2 .. .keep, the oldest
// dropped) and truncates it in place; with O_APPEND the instance's next write lands at the new
// end, offset 0, so the file never becomes sparse. What the instance writes between the end of
// the copy and the truncation (a few microseconds) is lost: the price of copy-truncate, which
// needs nothing of the instance and survives a yoke restart (a pipe drained by yoke would stall
// or SIGPIPE the instance whenever yoke does).
// Thread-safety: none needed; each call works on the paths it is given.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/status.h"

namespace yoke {

// Rotates `file` when it is a regular file (never through a symlink) larger than `max_bytes`.
// Returns true when it rotated. The copy is bounded by the size seen when the copy started,
// plus what was appended meanwhile, at most `max_bytes` more.
StatusOr<bool> RotateOutputFile(const std::filesystem::path& file, uint64_t max_bytes,
                                uint32_t keep);

}  // namespace yoke
