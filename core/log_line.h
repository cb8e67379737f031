// JSON log lines: their level, and for errors, their kind and the route their line names.
// Pure; a LogClassifier holds a simdjson parser, so each thread needs its own.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/route.h"

namespace yoke {

enum class LogLevel { kError, kWarn, kOther, kNoLevel, kNotJson };

struct LogFormat {
  std::vector<std::string> level_fields = {"level", "severity", "lvl"};
  std::vector<std::string> error_values = {"ERROR", "error",    "err",      "ERR",    "FATAL",
                                           "fatal", "CRITICAL", "critical", "SEVERE", "severe"};
  std::vector<std::string> warn_values = {"WARN", "warn", "WARNING", "warning", "Warning"};
  std::vector<std::string> message_fields = {"message", "msg"};
  std::vector<std::string> logger_fields = {"logger", "logger_name", "name"};
  // Fields that hold the request path an error line is about ("/items/42?x=1"); folded with
  // `route_patterns` (proxy.routes) the way the proxy folds pairs, so both name the same route.
  std::vector<std::string> route_fields = {"route", "path"};
  std::vector<std::string> route_patterns;
};

struct ClassifiedLine {
  LogLevel level = LogLevel::kNotJson;
  std::string kind;   // errors only: "<logger>: <message with numbers, ids and quotes folded>"
  std::string route;  // errors only: the folded route of a route field holding a path, or empty
};

// Folds what varies between two occurrences of the same error: digit runs and hex/uuid ids
// become '#', quoted text becomes '"…"'. "user 42 not found in 'eu-1'" and "user 7 not found
// in 'us-2'" fold to the same kind. At most 200 characters are kept.
std::string FoldErrorMessage(std::string_view message);

class LogClassifier {
 public:
  explicit LogClassifier(LogFormat format = {});

  // `line` must be followed by at least simdjson::SIMDJSON_PADDING readable bytes (pass the
  // buffer's capacity from the start of the line as `capacity`).
  ClassifiedLine Classify(const char* line, size_t length, size_t capacity);
  // Convenience for tests and small inputs: copies the line into padded memory.
  ClassifiedLine Classify(std::string_view line);

 private:
  LogFormat format_;
  RouteFolder folder_;
  simdjson::ondemand::parser parser_;
};

}  // namespace yoke
