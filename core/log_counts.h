// What one instance has logged: lines by level, error kinds with their counts, and errors by
// the route their line names (when it names one). Lines logged while the instance was starting
// are counted apart. Pure; not thread-safe.
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
  // Errors (after startup) whose line names a route, folded like the proxy's routes: at most
  // kMaxRoutes, then "(other)".
  uint64_t routed_errors = 0;
  std::map<std::string, uint64_t> route_errors;

  static constexpr size_t kMaxKinds = 1000;
  static constexpr size_t kMaxRoutes = 500;

  void Add(const ClassifiedLine& line, bool during_startup);
};

}  // namespace yoke
