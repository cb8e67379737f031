#include "core/log_line.h"

#include <algorithm>
#include <cctype>

namespace yoke {
namespace {

bool Contains(const std::vector<std::string>& names, std::string_view key) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

bool IsHexDigit(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string FoldErrorMessage(std::string_view message) {
  std::string out;
  out.reserve(std::min<size_t>(message.size(), 200));
  for (size_t i = 0; i < message.size() && out.size() < 200;) {
    char c = message[i];
    if (c == '"' || c == '\'') {
      size_t close = message.find(c, i + 1);
      if (close != std::string_view::npos) {
        out += "\"…\"";
        i = close + 1;
        continue;
      }
    }
    // A run of hex digits and dashes holding a digit (42, 0x1f, 550e8400-e29b-...) is an id.
    size_t j = i;
    bool digit = false;
    while (j < message.size() && (IsHexDigit(message[j]) || message[j] == '-' ||
                                  (j == i + 1 && message[j] == 'x' && message[i] == '0'))) {
      digit = digit || std::isdigit(static_cast<unsigned char>(message[j]));
      ++j;
    }
    bool word_start = i == 0 || !std::isalnum(static_cast<unsigned char>(message[i - 1]));
    bool word_end = j == message.size() || !std::isalnum(static_cast<unsigned char>(message[j]));
    if (digit && word_start && word_end && j > i) {
      out += '#';
      i = j;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

LogClassifier::LogClassifier(LogFormat format) : format_(std::move(format)) {}

ClassifiedLine LogClassifier::Classify(std::string_view line) {
  simdjson::padded_string padded(line);
  return Classify(padded.data(), padded.size(), padded.size() + simdjson::SIMDJSON_PADDING);
}

ClassifiedLine LogClassifier::Classify(const char* line, size_t length, size_t capacity) {
  ClassifiedLine out;
  // On-demand parsing stops at the end of the object, so a line must look like one object.
  while (length > 0 && (line[length - 1] == ' ' || line[length - 1] == '\t')) --length;
  if (length < 2 || line[0] != '{' || line[length - 1] != '}') return out;
  simdjson::padded_string_view view(line, length, capacity);
  simdjson::ondemand::document doc;
  if (parser_.iterate(view).get(doc)) return out;
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return out;
  std::string_view level, message, logger;
  bool have_level = false;
  // One pass over the fields; values are read only for the fields we want.
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return out;
    if (!have_level && Contains(format_.level_fields, key)) {
      if (field.value().get_string().get(level)) continue;
      have_level = true;
    } else if (message.empty() && Contains(format_.message_fields, key)) {
      if (field.value().get_string().get(message)) message = {};
    } else if (logger.empty() && Contains(format_.logger_fields, key)) {
      if (field.value().get_string().get(logger)) logger = {};
    }
  }
  if (!have_level) {
    out.level = LogLevel::kNoLevel;
    return out;
  }
  if (Contains(format_.error_values, level)) {
    out.level = LogLevel::kError;
    out.kind = std::string(logger.empty() ? "-" : logger) + ": " + FoldErrorMessage(message);
  } else if (Contains(format_.warn_values, level)) {
    out.level = LogLevel::kWarn;
  } else {
    out.level = LogLevel::kOther;
  }
  return out;
}

}  // namespace yoke
