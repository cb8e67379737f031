#include "core/log_line.h"

#include <algorithm>
#include <cctype>

namespace yoke {
namespace {

bool Contains(const std::vector<std::string>& names, std::string_view key) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

// Compares a key as it stands in the JSON text, without unescaping (copying) it. Configured
// field names hold no quotes or backslashes, so the raw comparison is exact for them.
bool KeyIn(simdjson::ondemand::raw_json_string key, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (key.unsafe_is_equal(name)) return true;
  }
  return false;
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
  // The 200-byte cut may split a multi-byte UTF-8 character: drop its remains.
  if (out.size() >= 200) {
    size_t end = out.size();
    size_t lead = end;
    while (lead > 0 && (static_cast<unsigned char>(out[lead - 1]) & 0xC0) == 0x80) --lead;
    if (lead > 0) {
      unsigned char c = static_cast<unsigned char>(out[lead - 1]);
      size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (end - (lead - 1) < need) out.resize(lead - 1);
    }
  }
  return out;
}

LogClassifier::LogClassifier(LogFormat format)
    : format_(std::move(format)), folder_(format_.route_patterns) {}

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
  // The level first, by the same direct look-up a bare parse uses: most lines stop there.
  std::string_view level;
  bool have_level = false;
  for (const std::string& name : format_.level_fields) {
    auto value = doc.find_field_unordered(name);
    if (value.error() == simdjson::NO_SUCH_FIELD) continue;
    if (value.error()) return out;                // not an object, or broken JSON
    if (value.get_string().get(level)) continue;  // a level that is not a string
    have_level = true;
    break;
  }
  if (!have_level) {
    // No level field: still tell JSON without a level from text that only looks like JSON.
    if (doc.rewind(), doc.get_object().error()) return out;
    out.level = LogLevel::kNoLevel;
    return out;
  }
  if (!Contains(format_.error_values, level)) {
    out.level = Contains(format_.warn_values, level) ? LogLevel::kWarn : LogLevel::kOther;
    return out;
  }
  // An error: walk the fields once more for its message and logger.
  doc.rewind();
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return out;
  std::string_view message, logger, path;
  const bool want_route = !format_.route_fields.empty();
  for (auto field : object) {
    if (field.error()) break;
    simdjson::ondemand::raw_json_string key = field.key();
    if (message.empty() && KeyIn(key, format_.message_fields)) {
      if (field.value().get_string().get(message)) message = {};
    } else if (logger.empty() && KeyIn(key, format_.logger_fields)) {
      if (field.value().get_string().get(logger)) logger = {};
    } else if (want_route && path.empty() && KeyIn(key, format_.route_fields)) {
      // Only a path names a route: "/items/42"; a name like "items" or a number does not.
      if (field.value().get_string().get(path) || !path.starts_with('/')) path = {};
    }
    if (!message.empty() && !logger.empty() && (!want_route || !path.empty())) break;
  }
  out.level = LogLevel::kError;
  out.kind = std::string(logger.empty() ? "-" : logger) + ": " + FoldErrorMessage(message);
  if (!path.empty()) out.route = folder_.Fold(path);
  return out;
}

}  // namespace yoke
