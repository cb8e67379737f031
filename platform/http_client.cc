// One coroutine per call on a private io_context: it only moves bytes and writes down how far it
// got; what a failure means (the HttpFailure and its message) is decided by the plain functions
// below it. The stream's expiry bounds connect, writes and reads; running the io_context until
// the same deadline bounds the resolve as well.
#include "platform/http_client.h"

#include <strings.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <vector>

namespace yoke {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kChunkBytes = 64 * 1024;

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

// The failure of a read that ended with `ec` (not need_buffer).
void FailOnRead(Call& call, const beast::error_code& ec, uint64_t max_body_bytes) {
  if (ec == beast::error::timeout) return FailOnDeadline(call);
  if (ec == http::error::body_limit) {
    return call.Fail(HttpFailure::kBodyTooLarge, "the answer from " + call.peer +
                                                     " has a body larger than " +
                                                     std::to_string(max_body_bytes) + " bytes");
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::error::eof || ec == asio::error::connection_reset) {
    return call.Fail(HttpFailure::kNoAnswer,
                     call.peer + " closed the connection before a whole answer");
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return call.Fail(HttpFailure::kBadResponse,
                     "bad answer from " + call.peer + ": " + ec.message());
  }
  call.Fail(HttpFailure::kNoAnswer, "no answer from " + call.peer + ": " + ec.message());
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

http::request<http::string_body> RequestMessage(const HttpRequest& request) {
  http::request<http::string_body> message;
  const http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) {
    message.method_string(request.method);
  } else {
    message.method(verb);
  }
  message.target(request.target);
  message.version(11);
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  if (message.count(http::field::host) == 0) {
    message.set(http::field::host,
                request.port == 80 ? request.host : PeerName(request.host, request.port));
  }
  if (message.count(http::field::connection) == 0) message.set(http::field::connection, "close");
  message.body() = request.body;
  message.prepare_payload();
  return message;
}

asio::awaitable<void> Exchange(const HttpRequest& request, const HttpCallOptions& options,
                               SteadyTime deadline, Call& call, HttpResponse& response) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_at(deadline);
  if (!co_await Connect(stream, request.host, request.port, call)) co_return;

  call.stage = Stage::kSend;
  http::request<http::string_body> message = RequestMessage(request);
  auto [wec, written] = co_await http::async_write(stream, message, kTuple);
  if (wec == beast::error::timeout) co_return FailOnDeadline(call);
  if (wec) {
    co_return call.Fail(HttpFailure::kNoAnswer,
                        "cannot send the request to " + call.peer + ": " + wec.message());
  }

  call.stage = Stage::kHead;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  if (options.headers_only) {
    parser.body_limit(boost::none);  // the body is never read, whatever its size
  } else {
    parser.body_limit(options.max_body_bytes);
  }
  if (message.method() == http::verb::head) parser.skip(true);
  auto [hec, head_bytes] = co_await http::async_read_header(stream, buffer, parser, kTuple);
  if (hec) co_return FailOnRead(call, hec, options.max_body_bytes);
  response.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }

  call.stage = Stage::kBody;
  std::vector<char> chunk(kChunkBytes);
  while (!options.headers_only && !parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (rec && rec != http::error::need_buffer)
      co_return FailOnRead(call, rec, options.max_body_bytes);
    const std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
    if (got.empty()) continue;
    if (!options.body_sink) {
      response.body.append(got);
      continue;
    }
    if (Status taken = options.body_sink(response, got); !taken) {
      co_return call.Fail(HttpFailure::kSinkFailed, taken.error().message());
    }
  }
  call.stage = Stage::kDone;
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
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

}  // namespace

StatusOr<HttpResponse> SendHttpRequest(const HttpRequest& request, const HttpCallOptions& options,
                                       HttpFailure* failure) {
  Call call(PeerName(request.host, request.port), options.timeout);
  HttpResponse response;
  try {
    const SteadyTime deadline = std::chrono::steady_clock::now() + options.timeout;
    RunUntil(call, deadline, Exchange(request, options, deadline, call, response));
  } catch (const std::exception& e) {  // from Asio's own set-up (descriptors, threads)
    call.Fail(HttpFailure::kCannotConnect, "HTTP call to " + call.peer + " failed: " + e.what());
  }
  if (failure) *failure = call.failure;
  if (call.failure != HttpFailure::kNone) return Fail(std::move(call.error), CodeOf(call.failure));
  return response;
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
