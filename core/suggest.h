// "Did you mean": the nearest of a list of names to a word somebody typed, by edit distance.
// Used for unknown subcommands, flags and config field names. Pure; thread-safety: free
// functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yoke {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours each cost 1 ("stauts" -> "status" is 1). Compared without case.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word`, when it is near enough to be a typo: at most a third of the
// word's length (at least 1, at most 3) away, or `word` is a prefix of it. Ties go to the
// earlier candidate. Nothing for an exact match or when nothing is near.
std::optional<std::string> NearestName(std::string_view word,
                                       const std::vector<std::string>& candidates);

}  // namespace yoke
