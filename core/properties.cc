#include "core/properties.h"

namespace yoke {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

}  // namespace

std::string RewritePropertiesPort(std::string_view text, std::string_view key, uint16_t port) {
  return SetPropertyValue(text, key, std::to_string(port));
}

std::string SetPropertyValue(std::string_view text, std::string_view key, std::string_view value) {
  std::string out;
  out.reserve(text.size() + key.size() + 8);
  bool found = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    size_t next = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line =
        text.substr(pos, (end == std::string_view::npos ? text.size() : end) - pos);
    bool cr = !line.empty() && line.back() == '\r';
    if (cr) line.remove_suffix(1);

    size_t i = 0;
    while (i < line.size() && IsBlank(line[i])) ++i;
    bool rewritten = false;
    if (i < line.size() && line[i] != '#' && line[i] != '!' && line.substr(i, key.size()) == key) {
      size_t j = i + key.size();
      if (j == line.size() || line[j] == '=' || line[j] == ':' || IsBlank(line[j])) {
        size_t k = j;
        while (k < line.size() && IsBlank(line[k])) ++k;
        if (k < line.size() && (line[k] == '=' || line[k] == ':')) ++k;
        while (k < line.size() && IsBlank(line[k])) ++k;
        out.append(line.substr(0, k));
        if (k == j) out.push_back('=');
        out.append(value);
        rewritten = found = true;
      }
    }
    if (!rewritten) out.append(line);
    if (cr) out.push_back('\r');
    if (end != std::string_view::npos) out.push_back('\n');
    pos = next;
  }
  if (!found) {
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
    out.append(key).append("=").append(value).append("\n");
  }
  return out;
}

}  // namespace yoke
