// yoke's one HTTP client (libcurl): one request, one response, on a connection of its own that
// is closed afterwards. The health probe, the CLI's calls to the admin API and the artifact fetch
// all go through it. Blocking, and one timeout bounds the whole exchange (resolve, connect, TLS,
// every write and every read, redirects included). http and https (the system's CAs, or a
// private CA file); redirects are followed only when asked, up to a bound. No exception leaves
// it: every failure is an Error with a message that says how far the exchange got.
// Thread-safety: free functions, callable from any thread at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace yoke {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string scheme = "http";  // or "https"
  std::string method = "GET";
  std::string host;  // an address ("127.0.0.1", "::1") or a name, resolved on each call
  uint16_t port = 80;
  std::string target = "/";
  // Sent as given. A Host field is added (host, with the port unless it is 80) when there is
  // none; Content-Length is set from `body` when it is not empty or the method is POST or PUT.
  HttpHeaders headers;
  std::string body;
};

struct HttpResponse {
  unsigned status = 0;
  HttpHeaders headers;  // in the order received
  std::string body;     // empty when a body sink took it, or with `headers_only`

  // The first value of the field `name` (any case), or "" when there is none.
  std::string_view Header(std::string_view name) const;
};

// Receives the body as it arrives, chunk by chunk (the chunked framing already removed), with
// the status line and headers in `head` (its body is empty). An error ends the exchange, and the
// call returns that error as it is.
using HttpBodySink = std::function<Status(const HttpResponse& head, std::string_view chunk)>;

struct HttpCallOptions {
  // Bounds the whole call, from resolving the host to the last byte of the body.
  Millis timeout{5000};
  // More body than this (a Content-Length above it, or that many bytes of a chunked or
  // close-delimited body) fails the call: kBodyTooLarge. Counts streamed bytes too.
  uint64_t max_body_bytes = 16 * 1024 * 1024;
  // When set, the body goes here instead of into HttpResponse::body (large downloads).
  HttpBodySink body_sink;
  // Return as soon as the status line and headers are in; the body is neither read nor waited
  // for (a health check only needs the status).
  bool headers_only = false;
  // https: the CA certificates (PEM) a server's certificate must chain to; empty: the system's.
  std::string ca_file;
  // Redirects followed (3xx with Location, http and https only); 0: a 3xx is the answer.
  unsigned max_redirects = 0;
  // "user:password" for HTTP basic authentication; empty: none.
  std::string user_password;
  // Called as the body arrives: bytes so far and the total (0 when the server did not say).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// How far a failed call got, for callers that tell "nothing is there" from "something is there
// but did not answer".
enum class HttpFailure {
  kNone,           // the call succeeded
  kCannotConnect,  // the host did not resolve, the connection was refused, or no connect in time
  kNoAnswer,       // connected, but no whole response came back in time or before the close
  kBadResponse,    // what came back is not an HTTP/1.1 response
  kBodyTooLarge,   // the body is larger than max_body_bytes
  kSinkFailed,     // the body sink returned an error
};

// Sends `request` and reads the response, whatever its status code. On failure, `failure` (when
// given) says how far the call got. Messages name the peer ("127.0.0.1:8081"), e.g.
// "cannot connect to 127.0.0.1:8081: Connection refused", "no answer from 127.0.0.1:8081 within
// 500 ms", "bad response from 127.0.0.1:8081: bad version".
StatusOr<HttpResponse> SendHttpRequest(const HttpRequest& request,
                                       const HttpCallOptions& options = {},
                                       HttpFailure* failure = nullptr);

// Only the connect step of SendHttpRequest: Ok when something accepts a TCP connection on
// host:port within `timeout` (the connection is closed at once). For TCP health checks.
Status CheckTcpConnect(const std::string& host, uint16_t port, Millis timeout);

}  // namespace yoke
