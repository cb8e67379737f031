#include "core/route.h"

#include <cctype>

namespace yoke {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

bool IsNumeric(std::string_view s) {
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool IsId(std::string_view s) { return IsNumeric(s) || IsUuid(s) || (s.size() >= 16 && IsHex(s)); }

}  // namespace

RouteFolder::RouteFolder(std::vector<std::string> patterns) {
  for (std::string& p : patterns) {
    std::vector<std::string> segments;
    for (auto s : Segments(p)) segments.emplace_back(s);
    patterns_.push_back(std::move(segments));
    names_.push_back(std::move(p));
  }
}

std::string RouteFolder::Fold(std::string_view target) const {
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  auto segments = Segments(path);
  for (size_t i = 0; i < patterns_.size(); ++i) {
    const auto& pattern = patterns_[i];
    bool match = true;
    size_t j = 0;
    for (; j < pattern.size(); ++j) {
      if (pattern[j] == "*" && j + 1 == pattern.size()) {
        j = segments.size();
        break;
      }
      if (j >= segments.size() || (pattern[j][0] != ':' && pattern[j] != segments[j])) {
        match = false;
        break;
      }
    }
    if (match && j == segments.size()) return names_[i];
  }
  std::string route;
  for (auto s : segments) {
    route += '/';
    route += IsId(s) ? std::string_view(":id") : s;
  }
  return route.empty() ? "/" : route;
}

}  // namespace yoke
