// SendHttpRequest is libcurl's easy interface, one handle per call: callbacks only collect the
// head and move the body on; what a failure means (the HttpFailure and its message) is decided
// from curl's code after the transfer. CheckTcpConnect is a plain Asio connect bounded by its
// deadline (no HTTP).
#include "platform/http_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

namespace yoke {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// How far a call has got; a deadline or an error is reported in the words of its stage.
enum class Stage { kResolve, kConnect, kSend, kHead, kBody, kDone };

// What one call found. The coroutine writes it; the caller reads it once the io_context is done.
struct Call {
  Call(std::string peer_name, Millis call_timeout)
      : peer(std::move(peer_name)), timeout(call_timeout) {}

  const std::string peer;  // "127.0.0.1:8081", "[::1]:8081"
  const Millis timeout;
  Stage stage = Stage::kResolve;
  HttpFailure failure = HttpFailure::kNone;
  std::string error;
  bool finished = false;

  void Fail(HttpFailure kind, std::string message) {
    failure = kind;
    error = std::move(message);
  }
};

std::string PeerName(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string Within(Millis timeout) { return "within " + std::to_string(timeout.count()) + " ms"; }

// The failure of a call that ran out of time at `stage`.
void FailOnDeadline(Call& call) {
  switch (call.stage) {
    case Stage::kResolve:
    case Stage::kConnect:
      call.Fail(HttpFailure::kCannotConnect,
                "cannot connect to " + call.peer + ": no answer " + Within(call.timeout));
      return;
    case Stage::kSend:
      call.Fail(HttpFailure::kNoAnswer,
                "cannot send the request to " + call.peer + " " + Within(call.timeout));
      return;
    case Stage::kHead:
      call.Fail(HttpFailure::kNoAnswer, "no answer from " + call.peer + " " + Within(call.timeout));
      return;
    case Stage::kBody:
    case Stage::kDone:
      call.Fail(HttpFailure::kNoAnswer,
                "no whole answer from " + call.peer + " " + Within(call.timeout));
      return;
  }
}

// Resolves (unless `host` is an address) and connects `stream`. False with `call` failed when
// it cannot.
asio::awaitable<bool> Connect(beast::tcp_stream& stream, const std::string& host, uint16_t port,
                              Call& call) {
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) {
    call.stage = Stage::kConnect;
    auto [cec] = co_await stream.async_connect(tcp::endpoint(address, port), kTuple);
    ec = cec;
  } else {
    tcp::resolver resolver(stream.get_executor());
    auto [rec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), kTuple);
    if (rec) {
      call.Fail(HttpFailure::kCannotConnect, "cannot resolve " + host + ": " + rec.message());
      co_return false;
    }
    call.stage = Stage::kConnect;
    auto [cec, endpoint] = co_await stream.async_connect(endpoints, kTuple);
    ec = cec;
  }
  if (ec == beast::error::timeout) {
    FailOnDeadline(call);
    co_return false;
  }
  if (ec) {
    call.Fail(HttpFailure::kCannotConnect, "cannot connect to " + call.peer + ": " + ec.message());
    co_return false;
  }
  co_return true;
}

// Runs `work` on a private io_context until it finishes or `deadline` passes, whichever is first;
// an exception from it (an allocation, a sink that throws) becomes the call's error.
template <typename Work>
void RunUntil(Call& call, SteadyTime deadline, Work work) {
  asio::io_context io;
  asio::co_spawn(io, std::move(work), [&call](std::exception_ptr thrown) {
    call.finished = true;
    if (!thrown) return;
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      call.Fail(HttpFailure::kNoAnswer, "HTTP call to " + call.peer + " failed: " + e.what());
    } catch (...) {
      call.Fail(HttpFailure::kNoAnswer, "HTTP call to " + call.peer + " failed");
    }
  });
  io.run_until(deadline);
  if (!call.finished) FailOnDeadline(call);
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (field.size() == name.size() && ::strncasecmp(field.data(), name.data(), name.size()) == 0)
      return value;
  }
  return {};
}

namespace {

// The peer being away or silent may pass; an answer that breaks the rules will not.
ErrorCode CodeOf(HttpFailure failure) {
  switch (failure) {
    case HttpFailure::kCannotConnect:
    case HttpFailure::kNoAnswer:
      return ErrorCode::kUnavailable;
    case HttpFailure::kBadResponse:
    case HttpFailure::kBodyTooLarge:
      return ErrorCode::kInvalid;
    default:
      return ErrorCode::kUnknown;
  }
}

// What one curl transfer found, filled by its callbacks.
struct Transfer {
  const HttpCallOptions* options;
  const std::string* peer;
  HttpResponse response;
  bool head_done = false;
  bool stopped_after_head = false;  // headers_only: ended on purpose
  uint64_t body_bytes = 0;
  HttpFailure failure = HttpFailure::kNone;
  std::string error;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    // A new head: each redirect (and a 100 Continue) starts one.
    t->response.headers.clear();
    auto space = line.find(' ');
    t->response.status = space == std::string_view::npos
                             ? 0
                             : std::atoi(std::string(line.substr(space + 1)).c_str());
    return n;
  }
  if (line.empty()) {
    const unsigned st = t->response.status;
    const bool redirect = st >= 300 && st < 400 && t->options->max_redirects > 0 &&
                          !t->response.Header("location").empty();
    if (st >= 200 && !redirect) {
      t->head_done = true;
      if (t->options->headers_only) {
        t->stopped_after_head = true;
        return 0;  // ends the transfer: the body is not waited for
      }
    }
    return n;
  }
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    t->response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return n;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (!t->head_done) return n;  // the body of a redirect that is followed
  t->body_bytes += n;
  if (t->body_bytes > t->options->max_body_bytes) {
    t->failure = HttpFailure::kBodyTooLarge;
    t->error = "the answer from " + *t->peer + " has a body larger than " +
               std::to_string(t->options->max_body_bytes) + " bytes";
    return 0;
  }
  const std::string_view chunk(data, n);
  if (!t->options->body_sink) {
    t->response.body.append(chunk);
    return n;
  }
  HttpResponse head = t->response;
  head.body.clear();
  if (Status taken = t->options->body_sink(head, chunk); !taken) {
    t->failure = HttpFailure::kSinkFailed;
    t->error = taken.error().message();
    return 0;
  }
  return n;
}

int OnProgress(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->options->progress && t->head_done) {
    t->options->progress(static_cast<uint64_t>(done), static_cast<uint64_t>(total));
  }
  return 0;
}

std::once_flag curl_init;

}  // namespace

StatusOr<HttpResponse> SendHttpRequest(const HttpRequest& request, const HttpCallOptions& options,
                                       HttpFailure* failure) {
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const std::string peer = PeerName(request.host, request.port);
  auto fail = [&](HttpFailure kind, std::string message) -> StatusOr<HttpResponse> {
    if (failure) *failure = kind;
    return Fail(std::move(message), CodeOf(kind));
  };
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return fail(HttpFailure::kCannotConnect, "HTTP call to " + peer + ": curl failed");
  CURL* c = curl.get();
  const std::string url = request.scheme + "://" + peer + request.target;
  Transfer t;
  t.options = &options;
  t.peer = &peer;
  curl_slist* headers = nullptr;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    if (::strcasecmp(name.c_str(), "content-type") == 0) has_content_type = true;
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  // curl's own additions that a hand-written request never had.
  headers = curl_slist_append(headers, "Expect:");
  if (!has_content_type) headers = curl_slist_append(headers, "Content-Type:");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, options.progress ? 0L : 1L);
  if (!options.headers_only) {
    curl_easy_setopt(
        c, CURLOPT_MAXFILESIZE_LARGE,
        static_cast<curl_off_t>(std::min<uint64_t>(options.max_body_bytes, INT64_MAX)));
  }
  if (options.max_redirects > 0) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  }
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.user_password.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERPWD, options.user_password.c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method == "GET" && request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    }
    if (request.method != "POST")
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  char detail[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
  const CURLcode code = curl_easy_perform(c);
  if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && t.stopped_after_head)) {
    if (failure) *failure = HttpFailure::kNone;
    return std::move(t.response);
  }
  if (t.failure != HttpFailure::kNone) return fail(t.failure, std::move(t.error));
  const std::string why = detail[0] ? detail : curl_easy_strerror(code);
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  curl_off_t connected_us = 0;
  curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected_us);
  const std::string within = "within " + std::to_string(options.timeout.count()) + " ms";
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return fail(HttpFailure::kCannotConnect, "cannot resolve " + request.host + ": " + why);
    case CURLE_COULDNT_CONNECT:
      return fail(
          HttpFailure::kCannotConnect,
          "cannot connect to " + peer + ": " +
              (os_errno != 0 ? std::string(std::strerror(static_cast<int>(os_errno))) : why));
    case CURLE_OPERATION_TIMEDOUT:
      if (connected_us == 0) {
        return fail(HttpFailure::kCannotConnect,
                    "cannot connect to " + peer + ": no answer " + within);
      }
      if (t.head_done) {
        return fail(HttpFailure::kNoAnswer, "no whole answer from " + peer + " " + within);
      }
      return fail(HttpFailure::kNoAnswer, "no answer from " + peer + " " + within);
    case CURLE_FILESIZE_EXCEEDED:
      return fail(HttpFailure::kBodyTooLarge,
                  "the answer from " + peer + " has a body larger than " +
                      std::to_string(options.max_body_bytes) + " bytes");
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
      return fail(HttpFailure::kNoAnswer, peer + " closed the connection before a whole answer");
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
      return fail(HttpFailure::kBadResponse, "bad answer from " + peer + ": " + why);
    case CURLE_TOO_MANY_REDIRECTS:
      return fail(HttpFailure::kBadResponse, "more than " + std::to_string(options.max_redirects) +
                                                 " redirects from " + peer + ": " + why);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return fail(HttpFailure::kCannotConnect, "TLS with " + peer + " failed: " + why);
    default:
      return fail(HttpFailure::kNoAnswer, "HTTP call to " + peer + " failed: " + why);
  }
}

Status CheckTcpConnect(const std::string& host, uint16_t port, Millis timeout) {
  Call call(PeerName(host, port), timeout);
  try {
    const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
    auto connect = [&call, &host, port, deadline]() -> asio::awaitable<void> {
      beast::tcp_stream stream(co_await asio::this_coro::executor);
      stream.expires_at(deadline);
      if (co_await Connect(stream, host, port, call)) call.stage = Stage::kDone;
    };
    RunUntil(call, deadline, connect());
  } catch (const std::exception& e) {
    call.Fail(HttpFailure::kCannotConnect, "cannot connect to " + call.peer + ": " + e.what());
  }
  if (call.failure != HttpFailure::kNone) return Fail(std::move(call.error), CodeOf(call.failure));
  return Ok();
}

}  // namespace yoke
