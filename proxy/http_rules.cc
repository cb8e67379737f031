#include "proxy/http_rules.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <charconv>

namespace yoke::proxy {
namespace {

using boost::beast::iequals;

bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::string_view("\"(),/:;<=>?@[\\]{}").find(c) == std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// A field value may hold visible characters, spaces, tabs and obs-text, never CR, LF or NUL.
bool IsFieldValue(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A request-target's path and query: visible ASCII, no fragment.
bool IsTargetText(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') return false;
  }
  return true;
}

bool IsRegNameChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("-._~!$&'()*+;=%").find(c) != std::string_view::npos;
}

// Content-Length's value: one decimal number, or a list of equal ones (RFC 9110 §8.6).
std::optional<uint64_t> ParseContentLength(std::string_view value) {
  std::optional<uint64_t> length;
  while (true) {
    const size_t comma = value.find(',');
    std::string_view item = TrimOws(value.substr(0, comma));
    if (item.empty() || item.size() > 19) return std::nullopt;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (ec != std::errc() || end != item.data() + item.size() || item.front() == '+') {
      return std::nullopt;
    }
    if (length && *length != n) return std::nullopt;
    length = n;
    if (comma == std::string_view::npos) return length;
    value.remove_prefix(comma + 1);
  }
}

Decision Refuse(http::status status, std::string reason) {
  return Decision{Refusal{status, std::move(reason)}, {}};
}

constexpr std::string_view kProxyOwned[] = {"connection",
                                            "keep-alive",
                                            "proxy-connection",
                                            "te",
                                            "trailer",
                                            "transfer-encoding",
                                            "upgrade",
                                            "proxy-authenticate",
                                            "proxy-authorization",
                                            "content-length",
                                            "host",
                                            "expect",
                                            "http2-settings",
                                            "x-forwarded-proto"};

}  // namespace

HeadScan ScanHead(std::string_view data, size_t from) {
  HeadScan scan;
  for (size_t i = from; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '\0') {
      scan.error = "NUL byte in the header";
      return scan;
    }
    if (c == '\n' && (i == 0 || data[i - 1] != '\r')) {
      scan.error = "header line ended by a bare LF";
      return scan;
    }
    if (c != '\r') continue;
    if (i + 1 == data.size()) break;  // the next read says what follows
    if (data[i + 1] != '\n') {
      scan.error = "bare CR in the header";
      return scan;
    }
    if (i + 2 == data.size()) break;
    if (data[i + 2] == ' ' || data[i + 2] == '\t') {
      scan.error = "folded header line (obs-fold)";
      return scan;
    }
    if (i + 3 < data.size() && data[i + 2] == '\r' && data[i + 3] == '\n') {
      scan.end = i + 4;
      return scan;
    }
  }
  return scan;
}

bool IsProxyOwnedField(std::string_view name) {
  if (name.size() >= 5 && iequals(name.substr(0, 5), "yoke-")) return true;
  for (std::string_view owned : kProxyOwned) {
    if (iequals(name, owned)) return true;
  }
  return false;
}

bool IsValidHost(std::string_view host) {
  std::string_view rest = host;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : rest.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    rest.remove_prefix(close + 1);
  } else {
    while (!rest.empty() && IsRegNameChar(rest.front())) rest.remove_prefix(1);
  }
  if (rest.empty()) return true;
  if (rest.front() != ':') return false;
  rest.remove_prefix(1);
  if (rest.size() > 5) return false;
  for (char c : rest) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

Decision DecideRequest(const http::request_header<>& header, std::string_view client_ip,
                       std::string_view default_host, bool trusted_peer) {
  Decision decision;
  ForwardRequest& f = decision.request;
  const unsigned version = header.version();
  if (version != 10 && version != 11) {
    return Refuse(http::status::http_version_not_supported, "HTTP/" + std::to_string(version / 10) +
                                                                "." + std::to_string(version % 10) +
                                                                " is not supported");
  }
  f.version = version;
  f.method = std::string(header.method_string());
  if (!IsToken(f.method)) return Refuse(http::status::bad_request, "invalid method");
  if (iequals(f.method, "CONNECT")) {
    return Refuse(http::status::bad_request, "CONNECT is not supported");
  }

  // The request-target (RFC 9112 §3.2): origin-form, absolute-form, or "*" for OPTIONS.
  std::string_view target = header.target();
  std::optional<std::string_view> authority;
  if (target == "*") {
    if (f.method != "OPTIONS") {
      return Refuse(http::status::bad_request, "'*' is a target only for OPTIONS");
    }
    f.target = "*";
  } else if (!target.empty() && target.front() == '/') {
    if (!IsTargetText(target)) return Refuse(http::status::bad_request, "invalid target");
    f.target = std::string(target);
  } else {
    const size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || !(iequals(target.substr(0, scheme_end), "http") ||
                                                  iequals(target.substr(0, scheme_end), "https"))) {
      return Refuse(http::status::bad_request, "target is neither a path nor an http URL");
    }
    std::string_view rest = target.substr(scheme_end + 3);
    const size_t path_start = rest.find_first_of("/?");
    authority = rest.substr(0, path_start);
    std::string_view path =
        path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    if (authority->empty() || authority->find('@') != std::string_view::npos ||
        !IsValidHost(*authority)) {
      return Refuse(http::status::bad_request, "invalid authority in the target");
    }
    if (!IsTargetText(path)) return Refuse(http::status::bad_request, "invalid target");
    f.target = path.empty() || path.front() != '/' ? "/" + std::string(path) : std::string(path);
  }

  // Host (RFC 9110 §7.2, RFC 9112 §3.2): one, valid; an absolute-form target's authority wins.
  size_t hosts = 0;
  std::string_view host;
  for (auto range = header.equal_range(http::field::host); range.first != range.second;
       ++range.first) {
    ++hosts;
    host = TrimOws(range.first->value());
  }
  if (hosts > 1) return Refuse(http::status::bad_request, "more than one Host");
  if (hosts == 1 && !IsValidHost(host)) return Refuse(http::status::bad_request, "invalid Host");
  if (authority) {
    f.host = std::string(*authority);
  } else if (hosts == 1) {
    f.host = std::string(host);
  } else if (version == 11) {
    return Refuse(http::status::bad_request, "HTTP/1.1 request without Host");
  } else {
    f.host = std::string(default_host);
  }

  // Framing (RFC 9112 §6): exactly one of Content-Length and `Transfer-Encoding: chunked`.
  size_t codings = 0, lengths = 0;
  std::string_view coding;
  std::optional<uint64_t> length;
  for (const auto& field : header) {
    if (field.name() == http::field::transfer_encoding) {
      ++codings;
      coding = TrimOws(field.value());
    } else if (field.name() == http::field::content_length) {
      auto parsed = ParseContentLength(field.value());
      if (!parsed || (length && *length != *parsed)) {
        return Refuse(http::status::bad_request, "invalid or conflicting Content-Length");
      }
      ++lengths;
      length = parsed;
    }
  }
  if (codings > 0) {
    if (lengths > 0) {
      return Refuse(http::status::bad_request, "both Transfer-Encoding and Content-Length");
    }
    if (version == 10) {
      return Refuse(http::status::bad_request, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (codings > 1) return Refuse(http::status::bad_request, "Transfer-Encoding repeated");
    if (!iequals(coding, "chunked")) {
      // A list of well-formed codings yoke does not decode: 501 (RFC 9112 §6.1); else 400.
      bool token_list = true;
      for (std::string_view rest = coding; token_list;) {
        const size_t comma = rest.find(',');
        token_list = IsToken(TrimOws(rest.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      if (token_list) {
        return Refuse(http::status::not_implemented,
                      "only Transfer-Encoding: chunked is supported");
      }
      return Refuse(http::status::bad_request, "invalid Transfer-Encoding");
    }
    f.framing = Framing::kChunked;
  } else if (length) {
    f.framing = Framing::kLength;
    f.content_length = *length;
  }

  // Connection (RFC 9110 §7.6.1) names more hop-by-hop fields; the fields the proxy owns are
  // written by the proxy whatever the client names.
  std::vector<std::string_view> named;
  for (auto range = header.equal_range(http::field::connection); range.first != range.second;
       ++range.first) {
    for (auto token : http::opt_token_list(range.first->value())) named.push_back(token);
  }
  bool close = false, keep_alive = false;
  for (std::string_view token : named) {
    close = close || iequals(token, "close");
    keep_alive = keep_alive || iequals(token, "keep-alive");
  }
  f.keep_alive = !close && (version == 11 || keep_alive);

  std::string forwarded_for, forwarded_proto, forwarded_host;
  // A trusted peer's fields, repeated ones joined as a list (RFC 9110 §5.3).
  auto keep = [trusted_peer](std::string& into, std::string_view value) {
    if (!trusted_peer) return;
    if (!into.empty()) into += ", ";
    into += TrimOws(value);
  };
  for (const auto& field : header) {
    const std::string_view name = field.name_string();
    const std::string_view value = field.value();
    if (!IsToken(name) || !IsFieldValue(value)) {
      return Refuse(http::status::bad_request, "invalid field");
    }
    if (field.name() == http::field::expect) {
      if (!iequals(TrimOws(value), "100-continue")) {
        return Refuse(http::status::expectation_failed, "only Expect: 100-continue is supported");
      }
      f.expect_continue = true;
      continue;
    }
    if (iequals(name, "x-forwarded-proto")) {
      keep(forwarded_proto, value);
      continue;
    }
    if (IsProxyOwnedField(name)) continue;
    bool hop = false;
    for (std::string_view token : named) hop = hop || iequals(token, name);
    if (hop) continue;
    if (iequals(name, "x-forwarded-for")) {
      keep(forwarded_for, value);
      continue;
    }
    if (iequals(name, "x-forwarded-host")) {
      keep(forwarded_host, value);
      continue;
    }
    f.fields.emplace_back(std::string(name), std::string(value));
  }
  if (!forwarded_for.empty()) forwarded_for += ", ";
  forwarded_for += client_ip;
  f.fields.emplace_back("X-Forwarded-For", std::move(forwarded_for));
  // A trusted peer's last hop is what it saw (a TLS terminator says "https").
  if (const auto comma = forwarded_proto.rfind(','); comma != std::string::npos) {
    forwarded_proto = std::string(TrimOws(std::string_view(forwarded_proto).substr(comma + 1)));
  }
  f.fields.emplace_back("X-Forwarded-Proto",
                        forwarded_proto.empty() ? std::string("http") : std::move(forwarded_proto));
  if (!forwarded_host.empty()) f.fields.emplace_back("X-Forwarded-Host", std::move(forwarded_host));
  return decision;
}

bool AppendHead(const ForwardRequest& request, bool mirror_copy, std::span<const std::string> strip,
                std::string& out) {
  bool any_stripped = false;
  out.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(request.host).append("\r\n");
  for (const auto& [name, value] : request.fields) {
    if (mirror_copy) {
      bool stripped = false;
      for (const std::string& s : strip) stripped = stripped || iequals(s, name);
      any_stripped = any_stripped || stripped;
      if (stripped) continue;
    }
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (mirror_copy) out.append("Yoke-Mirror: 1\r\n");
  switch (request.framing) {
    case Framing::kNone:
      break;
    case Framing::kLength:
      out.append("Content-Length: ").append(std::to_string(request.content_length)).append("\r\n");
      break;
    case Framing::kChunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
  }
  out.append("\r\n");
  return any_stripped;
}

size_t ChunkedDecoder::Fail(std::string reason, size_t consumed) {
  state_ = State::kError;
  error_ = std::move(reason);
  return consumed;
}

// A trailer field line: name ":" value, as in the header (RFC 9112 §7.1.2); no obs-fold.
bool ChunkedDecoder::EndTrailerLine() {
  const size_t colon = trailer_line_.find(':');
  if (colon == std::string::npos) return false;
  if (!IsToken(std::string_view(trailer_line_).substr(0, colon))) return false;
  if (!IsFieldValue(std::string_view(trailer_line_).substr(colon + 1))) return false;
  ++trailer_fields_;
  return true;
}

size_t ChunkedDecoder::Feed(std::string_view in, std::string& body) {
  size_t i = 0;
  while (i < in.size() && state_ == State::kMore) {
    const char c = in[i];
    const auto u = static_cast<unsigned char>(c);
    switch (step_) {
      case Step::kSize:
        if (std::isxdigit(u)) {
          if (++size_digits_ > 16) return Fail("chunk size too long", i);
          chunk_left_ = chunk_left_ * 16 + (std::isdigit(u) ? u - '0' : (u | 0x20) - 'a' + 10);
          ++i;
          break;
        }
        if (size_digits_ == 0) return Fail("chunk line without a size", i);
        if (c == '\n') return Fail("chunk line ended by a bare LF", i);
        if (c == '\r') {
          step_ = Step::kSizeLf;
        } else if (c == ';' || c == ' ' || c == '\t') {
          step_ = Step::kExt;
          line_bytes_ = 0;
        } else {
          return Fail("invalid chunk size", i);
        }
        ++i;
        break;
      case Step::kExt:
        // Extensions are checked for bytes that could end a line elsewhere, and dropped.
        if (c == '\r') {
          step_ = Step::kSizeLf;
        } else if (c == '\n') {
          return Fail("chunk line ended by a bare LF", i);
        } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
          return Fail("control character in a chunk extension", i);
        } else if (++line_bytes_ > max_line_) {
          return Fail("chunk extension too long", i);
        }
        ++i;
        break;
      case Step::kSizeLf:
        if (c != '\n') return Fail("chunk line with a CR not followed by LF", i);
        ++i;
        size_digits_ = 0;
        if (chunk_left_ == 0) {
          step_ = Step::kTrailer;
          trailer_line_.clear();
        } else if (chunk_left_ > max_body_ - body_bytes_) {
          over_limit_ = true;
          return Fail("body over the limit", i);
        } else {
          step_ = Step::kData;
        }
        break;
      case Step::kData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_left_, in.size() - i));
        body.append(in.substr(i, n));
        i += n;
        chunk_left_ -= n;
        body_bytes_ += n;
        if (chunk_left_ == 0) step_ = Step::kDataCr;
        break;
      }
      case Step::kDataCr:
        if (c != '\r') return Fail("chunk data not followed by CRLF", i);
        ++i;
        step_ = Step::kDataLf;
        break;
      case Step::kDataLf:
        if (c != '\n') return Fail("chunk data not followed by CRLF", i);
        ++i;
        step_ = Step::kSize;
        break;
      case Step::kTrailer:
        if (c == '\r') {
          step_ = Step::kTrailerLf;
        } else if (c == '\n') {
          return Fail("trailer line ended by a bare LF", i);
        } else if (++trailer_bytes_ > max_trailer_) {
          return Fail("trailers too large", i);
        } else {
          trailer_line_.push_back(c);
        }
        ++i;
        break;
      case Step::kTrailerLf:
        if (c != '\n') return Fail("trailer line with a CR not followed by LF", i);
        ++i;
        if (trailer_line_.empty()) {
          state_ = State::kDone;
          return i;
        }
        if (!EndTrailerLine()) return Fail("invalid trailer field", i);
        trailer_line_.clear();
        step_ = Step::kTrailer;
        break;
    }
  }
  return i;
}

void AppendChunk(std::string_view data, std::string& out) {
  if (data.empty()) return;
  char size[17];
  auto end = std::to_chars(size, size + sizeof(size), data.size(), 16).ptr;
  out.append(size, end).append("\r\n").append(data).append("\r\n");
}

void StripHopByHop(http::fields& fields) {
  std::vector<std::string> named;
  for (auto range = fields.equal_range(http::field::connection); range.first != range.second;
       ++range.first) {
    for (auto token : http::token_list(range.first->value())) {
      // The answer's length is never the Connection header's to remove.
      if (!iequals(token, "content-length")) named.emplace_back(token);
    }
  }
  for (const std::string& name : named) fields.erase(name);
  for (http::field f :
       {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
        http::field::te, http::field::trailer, http::field::transfer_encoding, http::field::upgrade,
        http::field::proxy_authenticate, http::field::proxy_authorization}) {
    fields.erase(f);
  }
}

http::response<http::string_body> ErrorResponse(http::status status, std::string_view detail,
                                                unsigned version, bool keep_alive) {
  http::response<http::string_body> res{status, version < 10 || version > 11 ? 11 : version};
  res.set(http::field::server, "yoke");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(keep_alive);
  res.body() = std::to_string(res.result_int()) + " " + std::string(res.reason()) + ": " +
               std::string(detail) + "\n";
  res.prepare_payload();
  return res;
}

}  // namespace yoke::proxy
