// HTTP/1.1 request and response rules as plain functions: what a request may be, the one
// normalised head the proxy forwards for it (to running and, as a copy, to testing), a strict
// decoder for chunked bodies, and the proxy's own error answers. No sockets here, so tests and
// the fuzzer (tests/proxy/http_rules_fuzz.cc) call them directly. docs/proxy.md has the table
// of every rule and why. Thread-safety: pure functions; a ChunkedDecoder belongs to one request.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yoke::proxy {

namespace http = boost::beast::http;

// How a request's body is delimited, as the proxy will write it upstream.
enum class Framing { kNone, kLength, kChunked };

// What the proxy forwards for one request, decided from its parsed header alone. Nothing the
// client wrote about framing, routing or hops is copied: Host, Content-Length and
// Transfer-Encoding are written from these fields, never from the client's text.
struct ForwardRequest {
  std::string method;
  std::string target;  // origin-form ("/path?query"), or "*" for OPTIONS
  std::string host;    // sent as Host; from an absolute-form target when there is one
  Framing framing = Framing::kNone;
  uint64_t content_length = 0;  // with kLength
  unsigned version = 11;        // the client's: 10 or 11
  bool keep_alive = false;      // whether the client wants the connection kept
  bool expect_continue = false;
  // End-to-end fields in the client's order, then X-Forwarded-For, X-Forwarded-Proto and (from
  // a trusted peer that sent it) X-Forwarded-Host.
  std::vector<std::pair<std::string, std::string>> fields;
};

// Why the proxy answers a request itself instead of forwarding it.
struct Refusal {
  http::status status;
  std::string reason;
};

// Where a request's header ends in `data` (just past the blank line), or npos while it has not
// arrived; `error` is set instead when the raw bytes may be read more than one way: a bare CR
// or LF, a NUL, or a line that starts with a space or tab (obs-fold, RFC 9112 §5.2). Scanning
// starts at `from` (bytes before it were scanned already and hold no header end).
struct HeadScan {
  size_t end = std::string_view::npos;
  std::string error;
};
HeadScan ScanHead(std::string_view data, size_t from);

// What the proxy does with one request: forward `request`, or answer `refusal` itself. Reads
// like std::expected (which clang 14, the fuzzer's compiler, lacks with GCC 12's library).
struct Decision {
  std::optional<Refusal> refusal;
  ForwardRequest request;
  explicit operator bool() const { return !refusal; }
  const ForwardRequest& operator*() const { return request; }
  const ForwardRequest* operator->() const { return &request; }
  const Refusal& error() const { return *refusal; }
};

// Decides whether and how a request is forwarded. `header` is what Beast's request parser
// read (it already refuses malformed lines, bad field syntax and conflicting lengths; the rules
// here do not rely on that). `default_host` is sent as Host for an HTTP/1.0 request without
// one. Refuses: versions other than 1.0 and 1.1 (505); CONNECT, authority-form and malformed
// targets, a missing (HTTP/1.1) or repeated Host, an invalid Host, Content-Length that is not
// one decimal number, Transfer-Encoding other than exactly `chunked`, both framings at once,
// Transfer-Encoding on HTTP/1.0 (400); an Expect other than 100-continue (417).
//
// X-Forwarded-*: from a `trusted_peer` (proxy.trusted_proxies: a TLS terminator, a load
// balancer) X-Forwarded-For is kept and the peer's address appended, and X-Forwarded-Proto and
// X-Forwarded-Host are kept as sent (Proto defaults to "http"). From any other peer the three are
// not believed: X-Forwarded-For is the peer's address alone, X-Forwarded-Proto is "http", and
// X-Forwarded-Host is dropped.
Decision DecideRequest(const http::request_header<>& header, std::string_view client_ip,
                       std::string_view default_host, bool trusted_peer = false);

// Appends the head the proxy writes upstream: request line (HTTP/1.1), Host, the fields, the
// framing field, and the blank line. For the copy sent to testing (`mirror_copy`), the fields
// named in `strip` (lower case) are left out and `Yoke-Mirror: 1` is added. Returns whether a
// field was left out (the pair's credentials_stripped).
bool AppendHead(const ForwardRequest& request, bool mirror_copy, std::span<const std::string> strip,
                std::string& out);

// Whether `name` is one the proxy never copies from a client: hop-by-hop fields, framing and
// routing fields it writes itself, and the proxy's own `Yoke-*` fields.
bool IsProxyOwnedField(std::string_view name);

// Whether `host` is a valid Host value: a reg-name, IPv4 or bracketed IPv6 literal, with an
// optional decimal port. Empty is valid (RFC 9112 §3.2).
bool IsValidHost(std::string_view host);

// A strict decoder of a chunked body (RFC 9112 §7.1): a chunk line is hex digits, optional
// extensions, CRLF (a bare CR or LF is an error, never a line end); chunk data is followed by
// CRLF; the trailer section is checked, bounded and dropped (trailers are never forwarded).
// Feed it the bytes in any split: the result does not depend on where reads end.
class ChunkedDecoder {
 public:
  enum class State { kMore, kDone, kError };

  explicit ChunkedDecoder(uint64_t max_body_bytes, size_t max_line_bytes = 4096,
                          size_t max_trailer_bytes = 8192)
      : max_body_(max_body_bytes), max_line_(max_line_bytes), max_trailer_(max_trailer_bytes) {}

  // Consumes from `in` and appends decoded body bytes to `body`. Returns how many bytes of
  // `in` it consumed: all of them unless the body ended (then the rest belongs to the next
  // request) or an error was found.
  size_t Feed(std::string_view in, std::string& body);

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  bool over_limit() const { return over_limit_; }  // the error is the body limit (413)
  uint64_t body_bytes() const { return body_bytes_; }
  uint32_t trailer_fields() const { return trailer_fields_; }

 private:
  enum class Step { kSize, kExt, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kTrailerLf };
  size_t Fail(std::string reason, size_t consumed);
  bool EndTrailerLine();

  uint64_t max_body_;
  size_t max_line_;
  size_t max_trailer_;
  State state_ = State::kMore;
  Step step_ = Step::kSize;
  std::string error_;
  bool over_limit_ = false;
  uint64_t chunk_left_ = 0;
  unsigned size_digits_ = 0;
  size_t line_bytes_ = 0;
  std::string trailer_line_;
  size_t trailer_bytes_ = 0;
  uint32_t trailer_fields_ = 0;
  uint64_t body_bytes_ = 0;
};

// Appends one chunk of `data` in chunked framing (nothing for empty data).
void AppendChunk(std::string_view data, std::string& out);
// The last chunk, with no trailers.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Removes the hop-by-hop fields of an upstream response (Connection and every field it names,
// Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate,
// Proxy-Authorization). The caller sets framing for the client.
void StripHopByHop(http::fields& fields);

// The proxy's own answer (400, 413, 431, 502, 504...): a short text body, Connection: close
// unless `keep_alive`.
http::response<http::string_body> ErrorResponse(http::status status, std::string_view detail,
                                                unsigned version, bool keep_alive);

}  // namespace yoke::proxy
