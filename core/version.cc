#include "core/version.h"

#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

namespace yoke {
namespace {

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsNumericIdentifier(std::string_view s) {
  return IsDigits(s) && (s.size() == 1 || s[0] != '0');
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

struct Semver {
  std::vector<std::string_view> core;  // three numeric identifiers
  std::vector<std::string_view> pre;   // empty: a release
};

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

std::optional<Semver> ParseSemver(std::string_view text) {
  if (auto plus = text.find('+'); plus != std::string_view::npos) {
    for (auto id : Split(text.substr(plus + 1), '.')) {
      if (!IsIdentifier(id)) return std::nullopt;
    }
    text = text.substr(0, plus);
  }
  Semver v;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    v.pre = Split(text.substr(dash + 1), '.');
    for (auto id : v.pre) {
      if (!IsIdentifier(id) || (IsDigits(id) && !IsNumericIdentifier(id))) return std::nullopt;
    }
    text = text.substr(0, dash);
  }
  v.core = Split(text, '.');
  if (v.core.size() != 3) return std::nullopt;
  for (auto id : v.core) {
    if (!IsNumericIdentifier(id)) return std::nullopt;
  }
  return v;
}

// Numeric strings without leading zeros compare by length, then lexically: no overflow.
int CompareNumeric(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a[0] == '0') a.remove_prefix(1);
  while (b.size() > 1 && b[0] == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

int CompareSemver(const Semver& a, const Semver& b) {
  for (int i = 0; i < 3; ++i) {
    if (int c = CompareNumeric(a.core[i], b.core[i]); c != 0) return c;
  }
  if (a.pre.empty() != b.pre.empty()) return a.pre.empty() ? 1 : -1;
  for (size_t i = 0; i < a.pre.size() && i < b.pre.size(); ++i) {
    bool an = IsDigits(a.pre[i]), bn = IsDigits(b.pre[i]);
    int c = 0;
    if (an && bn) {
      c = CompareNumeric(a.pre[i], b.pre[i]);
    } else if (an != bn) {
      c = an ? -1 : 1;  // numeric identifiers have lower precedence
    } else {
      c = a.pre[i].compare(b.pre[i]);
      c = c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (c != 0) return c;
  }
  if (a.pre.size() == b.pre.size()) return 0;
  return a.pre.size() < b.pre.size() ? -1 : 1;
}

int CompareNatural(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool ad = std::isdigit(static_cast<unsigned char>(a[i]));
    bool bd = std::isdigit(static_cast<unsigned char>(b[j]));
    if (ad && bd) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      if (int c = CompareNumeric(a.substr(i, ie - i), b.substr(j, je - j)); c != 0) return c;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j] ? -1 : 1;
      ++i;
      ++j;
    }
  }
  if (i == a.size() && j == b.size()) return 0;
  return i == a.size() ? -1 : 1;
}

}  // namespace

bool IsSemver(std::string_view text) { return ParseSemver(text).has_value(); }

int CompareVersions(std::string_view a, std::string_view b) {
  auto sa = ParseSemver(a);
  auto sb = ParseSemver(b);
  if (sa && sb) return CompareSemver(*sa, *sb);
  return CompareNatural(a, b);
}

bool IsMajorVersionChange(std::string_view running, std::string_view candidate) {
  auto r = ParseSemver(running);
  auto c = ParseSemver(candidate);
  if (!r && !c) return false;
  if (!r || !c) return true;
  return r->core[0] != c->core[0];  // numeric without leading zeros: equal text, equal number
}

bool IsValidVersionString(std::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  if (!std::isalnum(static_cast<unsigned char>(text[0]))) return false;
  for (char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '+' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace yoke
