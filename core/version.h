// Version strings and their order. A version is semver when it parses (2.1.0-rc.1+build),
// else opaque; opaque versions compare by natural order (digit runs as numbers).
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace yoke {

// True when `text` is a well-formed semantic version (MAJOR.MINOR.PATCH[-pre][+build]).
bool IsSemver(std::string_view text);

// <0, 0 or >0 as a is older than, the same as, or newer than b. Semver against semver follows
// semver precedence (build metadata ignored); anything else compares in natural order.
int CompareVersions(std::string_view a, std::string_view b);

// True when going from `running` to `candidate` changes the major version, which a person
// promotes (judge.auto_promote_major, docs/judge.md): both semver with different MAJOR, or one
// semver and one not (a change of scheme). Two opaque strings have no major to compare: false.
bool IsMajorVersionChange(std::string_view running, std::string_view candidate);

// True when `text` may name a version: 1 to 128 of [A-Za-z0-9._+-], starting with an
// alphanumeric. Keeps version strings safe to use as folder names.
bool IsValidVersionString(std::string_view text);

}  // namespace yoke
