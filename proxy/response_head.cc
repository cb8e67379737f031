#include "proxy/response_head.h"

#include <array>
#include <charconv>
#include <cstring>

namespace yoke::proxy {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]);
    const unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y && (x | 0x20) != (y | 0x20)) return false;
    if (x != y && !((x | 0x20) >= 'a' && (x | 0x20) <= 'z')) return false;
  }
  return true;
}

bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::strchr("\"(),/:;<=>?@[\\]{}", c) == nullptr;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr std::string_view kHopByHop[] = {
    "connection", "keep-alive", "proxy-connection",   "te",
    "trailer",    "upgrade",    "proxy-authenticate", "proxy-authorization"};

// One field line of a head: name, value (trimmed), and the rest after its CRLF.
struct Line {
  std::string_view name;
  std::string_view value;
};

// Splits the next field line off `rest`; false when the line is not `token ":" value` with a
// value free of control characters (then the general path reads the head).
bool NextField(std::string_view& rest, Line& line) {
  const size_t end = rest.find("\r\n");
  if (end == std::string_view::npos) return false;
  const std::string_view text = rest.substr(0, end);
  rest.remove_prefix(end + 2);
  const size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  line.name = text.substr(0, colon);
  for (char c : line.name) {
    if (!IsTokenChar(c)) return false;
  }
  line.value = TrimOws(text.substr(colon + 1));
  for (char c : line.value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Calls `f` with each comma-separated token of a Connection value; false if one is empty or
// not a token (then the general path decides).
template <typename F>
bool ForEachToken(std::string_view value, F f) {
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view token = TrimOws(value.substr(0, comma));
    if (!token.empty()) {
      for (char c : token) {
        if (!IsTokenChar(c)) return false;
      }
      f(token);
    }
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

size_t FindHeadEnd(std::string_view data) {
  const size_t at = data.find("\r\n\r\n");
  return at == std::string_view::npos ? std::string_view::npos : at + 4;
}

std::optional<ResponseHead> ParsePlainResponse(std::string_view data, size_t head_end,
                                               bool is_head) {
  if (head_end == std::string_view::npos || head_end > data.size()) return std::nullopt;
  const std::string_view head = data.substr(0, head_end - 2);  // up to the last field's CRLF
  ResponseHead r;
  r.size = head_end;
  // Status line: HTTP/1.x SP 3DIGIT SP reason CRLF, nothing looser.
  if (head.size() < 15 || head.substr(0, 7) != "HTTP/1." || (head[7] != '0' && head[7] != '1') ||
      head[8] != ' ' || head[12] != ' ') {
    return std::nullopt;
  }
  r.version = head[7] == '1' ? 11 : 10;
  for (int i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') return std::nullopt;
    r.status = r.status * 10 + static_cast<unsigned>(head[i] - '0');
  }
  if (r.status < 200) return std::nullopt;  // interim answers and 101: the general path
  const size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) return std::nullopt;
  r.reason = head.substr(13, line_end - 13);
  if (r.reason.empty()) return std::nullopt;
  for (char c : r.reason) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return std::nullopt;
  }
  r.fields = head.substr(line_end + 2);

  bool close = false, keep_alive = false, lengths = false;
  size_t tokens_seen = 0;  // AppendClientHead keeps up to 16 of the names Connection lists
  std::string_view rest = r.fields;
  Line line;
  while (!rest.empty()) {
    if (rest.front() == ' ' || rest.front() == '\t') return std::nullopt;  // obs-fold
    if (!NextField(rest, line)) return std::nullopt;
    if (IEquals(line.name, "transfer-encoding")) return std::nullopt;
    if (IEquals(line.name, "content-length")) {
      if (lengths || line.value.empty() || line.value.size() > 19) return std::nullopt;
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(line.value.data(), line.value.data() + line.value.size(), n);
      if (ec != std::errc() || end != line.value.data() + line.value.size()) return std::nullopt;
      lengths = true;
      r.content_length = n;
    } else if (IEquals(line.name, "connection")) {
      bool upgrade = false;
      const bool tokens = ForEachToken(line.value, [&](std::string_view token) {
        close = close || IEquals(token, "close");
        keep_alive = keep_alive || IEquals(token, "keep-alive");
        upgrade = upgrade || IEquals(token, "upgrade");
        ++tokens_seen;
      });
      if (!tokens || upgrade || tokens_seen > 16) return std::nullopt;
    }
  }
  r.has_body = !(is_head || r.status == 204 || r.status == 304);
  if (r.has_body && !r.content_length) return std::nullopt;  // read to EOF: the general path
  r.keep_alive = r.version == 11 ? !close : keep_alive;
  return r;
}

void AppendClientHead(const ResponseHead& r, unsigned version, bool keep_alive, std::string& out) {
  // The fields Connection names, which go with it (Content-Length never does).
  std::array<std::string_view, 16> named;
  size_t named_count = 0;
  Line line;
  for (std::string_view rest = r.fields; !rest.empty();) {
    NextField(rest, line);
    if (!IEquals(line.name, "connection")) continue;
    ForEachToken(line.value, [&](std::string_view token) {
      if (named_count < named.size() && !IEquals(token, "content-length")) {
        named[named_count++] = token;
      }
    });
  }
  char status[4] = {static_cast<char>('0' + r.status / 100),
                    static_cast<char>('0' + r.status / 10 % 10),
                    static_cast<char>('0' + r.status % 10), ' '};
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(status, 4).append(r.reason);
  out.append("\r\n");
  for (std::string_view rest = r.fields; !rest.empty();) {
    NextField(rest, line);
    bool drop = r.has_body && IEquals(line.name, "content-length");
    for (std::string_view hop : kHopByHop) drop = drop || IEquals(line.name, hop);
    for (size_t i = 0; i < named_count; ++i) drop = drop || IEquals(line.name, named[i]);
    if (drop) continue;
    out.append(line.name).append(": ").append(line.value).append("\r\n");
  }
  if (version == 10 && keep_alive) out.append("Connection: keep-alive\r\n");
  if (version != 10 && !keep_alive) out.append("Connection: close\r\n");
  if (r.has_body) {
    char digits[20];
    auto end = std::to_chars(digits, digits + sizeof digits, *r.content_length).ptr;
    out.append("Content-Length: ").append(digits, end).append("\r\n");
  }
  out.append("\r\n");
}

}  // namespace yoke::proxy
