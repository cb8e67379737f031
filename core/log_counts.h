// What one instance has logged: lines by level, and error kinds with their counts. Lines
// logged while the instance was starting are counted apart. Pure; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/log_line.h"

namespace yoke {

struct LogCounts {
  uint64_t lines = 0;
  uint64_t errors = 0;
  uint64_t warnings = 0;
  uint64_t no_level = 0;  // JSON without a level field
  uint64_t not_json = 0;  // lines that do not parse
  uint64_t startup_errors = 0;
  uint64_t startup_warnings = 0;
  std::map<std::string, uint64_t> error_kinds;  // at most kMaxKinds, then "(other kinds)"

  static constexpr size_t kMaxKinds = 1000;

  void Add(const ClassifiedLine& line, bool during_startup);
};

}  // namespace yoke
