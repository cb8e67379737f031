#include "core/log_counts.h"

namespace yoke {

void LogCounts::Add(const ClassifiedLine& line, bool during_startup) {
  ++lines;
  switch (line.level) {
    case LogLevel::kError: {
      ++(during_startup ? startup_errors : errors);
      auto it = error_kinds.find(line.kind);
      if (it == error_kinds.end() && error_kinds.size() >= kMaxKinds) {
        it = error_kinds.try_emplace("(other kinds)").first;
      } else if (it == error_kinds.end()) {
        it = error_kinds.try_emplace(line.kind).first;
      }
      ++it->second;
      if (!during_startup && !line.route.empty()) {
        ++routed_errors;
        auto route = route_errors.find(line.route);
        if (route == route_errors.end() && route_errors.size() >= kMaxRoutes) {
          route = route_errors.try_emplace("(other)").first;
        } else if (route == route_errors.end()) {
          route = route_errors.try_emplace(line.route).first;
        }
        ++route->second;
      }
      break;
    }
    case LogLevel::kWarn:
      ++(during_startup ? startup_warnings : warnings);
      break;
    case LogLevel::kNoLevel:
      ++no_level;
      break;
    case LogLevel::kNotJson:
      ++not_json;
      break;
    case LogLevel::kOther:
      break;
  }
}

}  // namespace yoke
