// The proxy's data path: accept, read and check a request, forward it to running, mirror it to
// testing, relay the answer, pair the two outcomes. Over 500 lines on purpose: its coroutines
// share the worker, the stream types and the upstream pool, and read top to bottom as one
// request's way through; the pure rules are in http_rules.cc. Issue 13 (speed) reworks this
// file; split the pool and the relays out then.
#include "proxy/proxy.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "core/route.h"
#include "proxy/body_sample.h"
#include "proxy/deadline_stream.h"
#include "proxy/http_rules.h"
#include "proxy/response_head.h"

namespace yoke::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using beast::error_code;
// Concrete executor types throughout: the type-erased any_io_executor showed up in profiles.
using Executor = asio::io_context::executor_type;
// One lazy deadline per connection (deadline_stream.h), not a timer per operation.
using Stream = DeadlineStream;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Executor>;
template <typename T>
using Task = asio::awaitable<T, Executor>;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable_t<Executor>{});
constexpr size_t kRelayChunk = 16 * 1024;
// Answers up to this size are read whole and sent in one write; larger ones stream through.
constexpr uint64_t kSmallBody = 64 * 1024;
constexpr auto kRelaxed = std::memory_order_relaxed;

std::chrono::microseconds Since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start);
}

// One upstream. Snapshots that name the same host:port share it, so its in-flight count
// survives a Publish.
struct Target {
  Upstream upstream;
  tcp::endpoint endpoint;
  std::atomic<uint64_t> in_flight{0};
  std::atomic<uint64_t> served{0};
};

struct Targets {
  std::shared_ptr<Target> running;
  std::shared_ptr<Target> testing;
  std::shared_ptr<const MirrorPolicy> mirror;  // never null
};

// The targets one request is served with, from Impl::Enter to the end of the request: while it
// lives, the running target counts the request in flight.
class EnteredTargets {
 public:
  explicit EnteredTargets(std::shared_ptr<const Targets> targets) : targets_(std::move(targets)) {}
  ~EnteredTargets() {
    if (targets_->running) targets_->running->in_flight.fetch_sub(1);
  }
  EnteredTargets(const EnteredTargets&) = delete;
  EnteredTargets& operator=(const EnteredTargets&) = delete;
  const Targets* operator->() const { return targets_.get(); }
  const std::shared_ptr<const Targets>& shared() const { return targets_; }

 private:
  std::shared_ptr<const Targets> targets_;
};

// Joins running's and testing's halves of a pair. Both halves run on one worker thread.
struct PairState {
  Pair pair;
  int remaining = 2;
  EvidenceSink* sink;
  ProxyCounters* counters;
  void HalfDone() {
    if (--remaining > 0) return;
    counters->pairs.fetch_add(1, kRelaxed);
    if (sink) sink->OnPair(std::move(pair));
  }
};

// Idle keep-alive connections to upstreams, for one worker (no lock: one thread uses it).
class Pool {
 public:
  Pool(asio::io_context& io, uint32_t max_idle) : io_(io), max_idle_(max_idle) {}

  struct Lease {
    error_code ec;
    std::optional<Stream> stream;
    bool reused = false;
    // The connection's read buffer, kept with it in the pool: a fresh 16 KiB buffer per
    // request showed in the profile (malloc growing and trimming the heap).
    beast::flat_buffer buffer;
  };

  // An idle pooled connection, if there is one: a plain call, so the common case costs no
  // coroutine frame.
  std::optional<Lease> TryReuse(const Target& target) {
    auto& idle = idle_[target.endpoint];
    while (!idle.empty()) {
      Idle entry = std::move(idle.back());
      idle.pop_back();
      // A connection used a moment ago is almost surely open (and a stale one is retried);
      // one that sat idle is checked first, at the cost of a syscall.
      if (SteadyClock::now() - entry.since < std::chrono::seconds(2) || StillOpen(entry.stream)) {
        return Lease{{}, std::move(entry.stream), true, std::move(entry.buffer)};
      }
    }
    return std::nullopt;
  }

  // A new connection to `target`.
  Task<Lease> Connect(const Target& target, std::chrono::milliseconds timeout) {
    Lease lease;
    lease.stream.emplace(io_.get_executor());
    lease.stream->expires_after(timeout);
    auto connected = co_await lease.stream->async_connect(target.endpoint, kTuple);
    lease.ec = std::get<0>(connected);
    error_code ignored;
    if (!lease.ec) lease.stream->socket().set_option(tcp::no_delay(true), ignored);
    co_return lease;
  }

  // REQUIRES: `buffer` holds no unread bytes.
  void Release(const Target& target, Stream stream, beast::flat_buffer buffer) {
    auto& idle = idle_[target.endpoint];
    if (idle.size() >= max_idle_) return;
    stream.expires_never();
    // A buffer a large answer grew is not kept: idle connections hold 16 KiB at most.
    if (buffer.capacity() > kRelayChunk) buffer = beast::flat_buffer();
    idle.push_back(Idle{std::move(stream), SteadyClock::now(), std::move(buffer)});
  }

  // Drops idle connections to upstreams no snapshot names any more (an old running).
  void Prune(const Targets& current) {
    for (auto it = idle_.begin(); it != idle_.end();) {
      bool wanted = (current.running && current.running->endpoint == it->first) ||
                    (current.testing && current.testing->endpoint == it->first);
      it = wanted ? std::next(it) : idle_.erase(it);
    }
  }

 private:
  // An idle connection the upstream has closed (or wrote to, unasked) is useless.
  static bool StillOpen(Stream& stream) {
    char byte;
    ssize_t n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  asio::io_context& io_;
  uint32_t max_idle_;
  struct Idle {
    Stream stream;
    SteadyClock::time_point since;
    beast::flat_buffer buffer;
  };
  std::map<tcp::endpoint, std::vector<Idle>> idle_;
};

bool IsRetriable(const error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

struct Worker;

}  // namespace

struct Proxy::Impl {
  ProxyOptions options;
  EvidenceSink* sink;
  RouteFolder folder;
  ProxyCounters counters;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t port = 0;
  // Set by Drain: every answer closes its connection, nothing new is accepted.
  std::atomic<bool> draining{false};
  BodySampler body_sampler;  // issue 18: bodies for the judge's body_diff gate

  mutable std::mutex mu;
  std::shared_ptr<const Targets> targets = std::make_shared<Targets>();        // GUARDED_BY(mu)
  std::map<std::pair<std::string, uint16_t>, std::weak_ptr<Target>> registry;  // GUARDED_BY(mu)
  bool mirror_is_default = true;  // GUARDED_BY(mu): targets->mirror is options.mirror

  Impl(ProxyOptions o, EvidenceSink* s)
      : options(std::move(o)), sink(s), folder(options.route_patterns) {
    auto initial = std::make_shared<Targets>();
    initial->mirror = std::make_shared<const MirrorPolicy>(options.mirror);
    targets = std::move(initial);
  }

  std::shared_ptr<const Targets> Load() const {
    std::lock_guard lock(mu);
    return targets;
  }

  // The targets for a request, its running target's in-flight count raised under the lock
  // Publish takes. Once Publish has replaced running, the old target's count includes every
  // request that may still reach it, and the supervisor stops the old instance only at zero.
  // (Counted later, a request could pick the old target, then find it stopped: a 502 in a
  // promotion.)
  EnteredTargets Enter() const {
    std::lock_guard lock(mu);
    if (targets->running) targets->running->in_flight.fetch_add(1);
    return EnteredTargets(targets);
  }
};

namespace {

struct Worker {
  Proxy::Impl& impl;
  // Client connections waiting for the first byte of their next request (Drain closes them
  // once its idle grace is over). Only this worker's thread touches it. Declared before `io`:
  // the sessions' frames, destroyed with `io`, take themselves out of it.
  std::map<Socket*, SteadyClock::time_point> idle;
  // One thread runs it; only reactor I/O goes unlocked, since Publish and Stop post to it.
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Acceptor acceptor{io.get_executor()};
  Pool pool;
  std::thread thread;
  explicit Worker(Proxy::Impl& i) : impl(i), pool(io, i.options.max_idle_per_upstream) {}
};

void LogFailure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("proxy: connection ended by an unexpected error: {}", ex.what());
  }
}

// Marks a connection idle while it waits for the first byte of a request.
class IdleMark {
 public:
  IdleMark(Worker& w, Socket& socket, bool idle) : w_(w), socket_(idle ? &socket : nullptr) {
    if (socket_) w_.idle.emplace(socket_, SteadyClock::now());
  }
  ~IdleMark() {
    if (socket_) w_.idle.erase(socket_);
  }
  IdleMark(const IdleMark&) = delete;
  IdleMark& operator=(const IdleMark&) = delete;

 private:
  Worker& w_;
  Socket* socket_;
};

// Writes the proxy's own answer and counts it.
Task<void> AnswerError(Worker& w, Stream& client, http::status status, std::string_view detail,
                       unsigned version, bool keep_alive) {
  auto res = ErrorResponse(status, detail, version, keep_alive);
  w.impl.counters.CountResponse(res.result_int());
  client.expires_after(w.impl.options.client_timeout);
  co_await http::async_write(client, res, kTuple);
}

// Relays running's answer, whose header is already in `parser`, to the client, streaming the
// body through a small buffer (Beast's relay pattern). Returns the first error from either
// side and which side it came from.
Task<std::pair<error_code, bool /*from_client*/>> RelayAnswer(
    Stream& upstream, beast::flat_buffer& upstream_buffer,
    http::response_parser<http::buffer_body>& parser, Stream& client,
    std::chrono::milliseconds timeout) {
  http::serializer<false, http::buffer_body> serializer{parser.get()};
  // On the heap: inside the coroutine frame it would make every frame this large.
  auto chunk = std::make_unique<char[]>(kRelayChunk);
  do {
    auto& body = parser.get().body();
    if (!parser.is_done()) {
      body.data = chunk.get();
      body.size = kRelayChunk;
      upstream.expires_after(timeout);
      auto read = co_await http::async_read(upstream, upstream_buffer, parser, kTuple);
      error_code ec = std::get<0>(read);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return std::pair{ec, false};
      body.size = kRelayChunk - body.size;
      body.data = chunk.get();
      body.more = !parser.is_done();
    } else {
      body.data = nullptr;
      body.size = 0;
    }
    client.expires_after(timeout);
    auto written = co_await http::async_write(client, serializer, kTuple);
    error_code ec = std::get<0>(written);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return std::pair{ec, true};
  } while (!parser.is_done() && !serializer.is_done());
  co_return std::pair{error_code{}, false};
}

// How sending a streamed request body ended.
enum class BodyEnd { kDone, kClientGone, kUpstreamFailed, kInvalid, kTooLarge };
struct BodyResult {
  BodyEnd end = BodyEnd::kDone;
  error_code ec;       // with kClientGone and kUpstreamFailed
  std::string reason;  // with kInvalid and kTooLarge
};

// Makes sure `buffer` holds at least one byte from the client.
Task<error_code> FillFromClient(Worker& w, Stream& client, beast::flat_buffer& buffer) {
  if (buffer.size() > 0) co_return error_code{};
  client.expires_after(w.impl.options.client_timeout);
  auto space = buffer.prepare(kRelayChunk);
  auto read = co_await client.async_read_some(space, kTuple);
  buffer.commit(std::get<1>(read));
  co_return std::get<0>(read);
}

// Writes `head` to running, then the body as it arrives from the client: a length-delimited
// body byte for byte, a chunked one decoded strictly (ChunkedDecoder) and written again in
// chunks of the proxy's own framing, without trailers. Bytes after the body stay in `buffer`
// for the next request.
Task<BodyResult> SendStreamed(Worker& w, Stream& client, beast::flat_buffer& buffer,
                              Stream& upstream, const std::string& head,
                              const ForwardRequest& request) {
  const auto& o = w.impl.options;
  BodyResult result;
  std::optional<ChunkedDecoder> decoder;
  if (request.framing == Framing::kChunked) decoder.emplace(o.max_body_bytes);
  uint64_t left = request.framing == Framing::kLength ? request.content_length : 0;
  std::string out = head;  // the head goes first, then each piece of body as it arrives
  while (true) {
    if (!out.empty()) {
      const auto out_bytes = asio::buffer(out);
      upstream.expires_after(o.upstream_timeout);
      auto written = co_await asio::async_write(upstream, out_bytes, kTuple);
      if (std::get<0>(written)) {
        result.end = BodyEnd::kUpstreamFailed;
        result.ec = std::get<0>(written);
        break;
      }
      out.clear();
    }
    if (decoder ? decoder->state() != ChunkedDecoder::State::kMore : left == 0) break;
    const error_code read_ec = co_await FillFromClient(w, client, buffer);
    if (read_ec) {
      result.end = BodyEnd::kClientGone;
      result.ec = read_ec;
      break;
    }
    const std::string_view input(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (decoder) {
      std::string decoded;
      buffer.consume(decoder->Feed(input, decoded));
      if (decoder->state() == ChunkedDecoder::State::kError) {
        result.end = decoder->over_limit() ? BodyEnd::kTooLarge : BodyEnd::kInvalid;
        result.reason = decoder->error();
        break;
      }
      AppendChunk(decoded, out);
      if (decoder->state() == ChunkedDecoder::State::kDone) out.append(kLastChunk);
    } else {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, input.size()));
      out.assign(input.substr(0, n));
      buffer.consume(n);
      left -= n;
    }
  }
  co_return result;
}

bool HasNoBody(unsigned status, bool head) {
  return head || status / 100 == 1 || status == 204 || status == 304;
}

// Prepares an upstream response header for the client: hop-by-hop fields out, framing and
// keep-alive set for this client.
void PrepareResponseHeader(http::response_parser<http::buffer_body>& rp, unsigned version,
                           bool keep_alive) {
  auto& msg = rp.get();
  bool chunked = rp.chunked() || !rp.content_length();
  StripHopByHop(msg);
  msg.version(version);
  if (chunked && version >= 11) msg.chunked(true);
  msg.keep_alive(keep_alive && !(chunked && version < 11));
}

struct Outcome {
  unsigned status = 0;
  bool keep_client = false;
};

enum class UpstreamFailure { kConnect, kAnswer, kBrokeOff, kSwitchedProtocols };

// Answers the client when running cannot be reached or does not answer: 504 on a timeout,
// else 502. Nothing of running's answer has reached the client yet.
Task<Outcome> AnswerUpstreamFailure(Worker& w, Stream& client, const Target& running,
                                    UpstreamFailure failure, error_code ec, unsigned version) {
  auto& counters = w.impl.counters;
  const bool timeout = ec == beast::error::timeout;
  std::string detail;
  switch (failure) {
    case UpstreamFailure::kConnect:
      detail = "running instance " + running.upstream.host + ":" +
               std::to_string(running.upstream.port) + " is unreachable (" + ec.message() + ")";
      break;
    case UpstreamFailure::kAnswer:
      detail = timeout ? "running did not answer in time"
                       : "running closed the connection (" + ec.message() + ")";
      break;
    case UpstreamFailure::kBrokeOff:
      detail = "running's answer broke off (" + ec.message() + ")";
      break;
    case UpstreamFailure::kSwitchedProtocols:
      detail = "running switched protocols, which yoke does not proxy";
      break;
  }
  (timeout ? counters.upstream_timeouts : counters.upstream_unreachable).fetch_add(1, kRelaxed);
  const auto status = timeout ? http::status::gateway_timeout : http::status::bad_gateway;
  co_await AnswerError(w, client, status, detail, version, false);
  co_return Outcome{static_cast<unsigned>(status), false};
}

// Reads running's answer header, passing interim 1xx answers (103 Early Hints) on to the
// client; 100 Continue was ours to send.
Task<error_code> ReadAnswerHeader(Worker& w, Stream& upstream, beast::flat_buffer& buffer,
                                  std::optional<http::response_parser<http::empty_body>>& rp,
                                  Stream& client, bool is_head, unsigned version) {
  const auto& o = w.impl.options;
  while (true) {
    rp.emplace();
    rp->body_limit(boost::none);
    if (is_head) rp->skip(true);
    upstream.expires_after(o.upstream_timeout);
    auto read = co_await http::async_read_header(upstream, buffer, *rp, kTuple);
    const error_code ec = std::get<0>(read);
    const unsigned status = ec ? 0 : rp->get().result_int();
    if (ec || status / 100 != 1 || status == 101) co_return ec;
    if (status != 100) {
      http::response<http::empty_body> interim{rp->get().result(), version};
      for (const auto& field : rp->get()) interim.set(field.name_string(), field.value());
      StripHopByHop(interim);
      client.expires_after(o.client_timeout);
      co_await http::async_write(client, interim, kTuple);
    }
  }
}

std::string_view View(const beast::flat_buffer& buffer) {
  return {static_cast<const char*>(buffer.data().data()), buffer.size()};
}

// The most of an answer's head the fast path looks at; a longer head goes to Beast's parser.
constexpr size_t kPlainHeadLimit = 8 * 1024;

// Reads an upstream's answer into `buffer` until a whole head is there, or more bytes than the
// fast path looks at (the general path's parser then reads the same bytes). An upstream that
// closes first gives end_of_stream (nothing read: a stale pooled connection) or
// partial_message, as Beast's parser would.
Task<error_code> ReadHeadBytes(Stream& upstream, beast::flat_buffer& buffer) {
  size_t scanned = 0;
  while (true) {
    const std::string_view data = View(buffer);
    const size_t at = data.find("\r\n\r\n", scanned);
    if (at != std::string_view::npos || data.size() >= kPlainHeadLimit) co_return error_code{};
    scanned = data.size() >= 3 ? data.size() - 3 : 0;
    const auto space = buffer.prepare(kRelayChunk);
    auto read = co_await upstream.async_read_some(space, kTuple);
    buffer.commit(std::get<1>(read));
    error_code ec = std::get<0>(read);
    if (ec == asio::error::eof) {
      ec = buffer.size() == 0 ? error_code(http::error::end_of_stream)
                              : error_code(http::error::partial_message);
    }
    if (ec) co_return ec;
  }
}

// The plain answer's head (response_head.h) from the bytes at the start of `buffer`, if it is
// one and small enough to be read whole.
std::optional<ResponseHead> PlainAnswer(const beast::flat_buffer& buffer, bool is_head) {
  const std::string_view data = View(buffer);
  auto plain = ParsePlainResponse(data, FindHeadEnd(data), is_head);
  if (plain && plain->has_body && *plain->content_length > kSmallBody) return std::nullopt;
  return plain;
}

// Reads until `buffer` holds the whole plain answer `plain` describes (its views are made
// again: reading may move the buffer). Upstream read errors as in ReadHeadBytes.
Task<error_code> ReadPlainBody(Stream& upstream, beast::flat_buffer& buffer, ResponseHead& plain,
                               bool is_head) {
  const size_t total = plain.size + (plain.has_body ? *plain.content_length : 0);
  if (buffer.size() >= total) co_return error_code{};
  while (buffer.size() < total) {
    const auto space = buffer.prepare(std::max(total - buffer.size(), kRelayChunk));
    auto read = co_await upstream.async_read_some(space, kTuple);
    buffer.commit(std::get<1>(read));
    error_code ec = std::get<0>(read);
    if (ec == asio::error::eof) ec = http::error::partial_message;
    if (ec) co_return ec;
  }
  plain = *PlainAnswer(buffer, is_head);
  co_return error_code{};
}

// The fast path: running's plain answer, read whole, goes to the client in one gather write:
// the head yoke built, then the body bytes straight from the read buffer. Returns an upstream
// read error (nothing has reached the client then); `client_ok` says whether the write worked.
Task<error_code> SendPlain(Worker& w, Stream& upstream, beast::flat_buffer& upstream_buffer,
                           ResponseHead& plain, Stream& client, unsigned version, bool keep_alive,
                           bool is_head, bool& client_ok) {
  const auto& o = w.impl.options;
  upstream.expires_after(o.upstream_timeout);
  if (upstream_buffer.size() < plain.size + (plain.has_body ? *plain.content_length : 0)) {
    const error_code read_ec = co_await ReadPlainBody(upstream, upstream_buffer, plain, is_head);
    if (read_ec) co_return read_ec;
  }
  std::string head;
  head.reserve(plain.size + 64);
  AppendClientHead(plain, version, keep_alive, head);
  const size_t body = plain.has_body ? static_cast<size_t>(*plain.content_length) : 0;
  const std::array<asio::const_buffer, 2> parts = {
      asio::buffer(head), asio::buffer(View(upstream_buffer).data() + plain.size, body)};
  client.expires_after(o.client_timeout);
  auto written = co_await asio::async_write(client, parts, kTuple);
  client_ok = !std::get<0>(written);
  upstream_buffer.consume(plain.size + body);
  co_return error_code{};
}

// The general path for a small answer Beast parsed: reads the rest and sends it whole, in one
// write. Returns an upstream read error (nothing has reached the client then); `client_ok` says
// whether the write to the client worked.
Task<error_code> SendWhole(Worker& w, Stream& upstream, beast::flat_buffer& upstream_buffer,
                           http::response_parser<http::empty_body>& header, Stream& client,
                           unsigned version, bool keep_alive, bool is_head, bool& client_ok) {
  const auto& o = w.impl.options;
  http::response_parser<http::string_body> full{std::move(header)};
  if (!full.is_done()) {
    upstream.expires_after(o.upstream_timeout);
    auto read = co_await http::async_read(upstream, upstream_buffer, full, kTuple);
    if (std::get<0>(read)) co_return std::get<0>(read);
  }
  http::response<http::string_body> res = full.release();
  StripHopByHop(res);
  res.version(version);
  res.keep_alive(keep_alive);
  // The length the client reads is the body yoke read, whatever running's fields said.
  if (!HasNoBody(res.result_int(), is_head)) res.content_length(res.body().size());
  client.expires_after(o.client_timeout);
  auto written = co_await http::async_write(client, res, kTuple);
  client_ok = !std::get<0>(written);
  co_return error_code{};
}

// Sends one request to running and relays the answer. `wire` is the head the proxy built,
// followed by the whole body when `streamed` is null (then a stale pooled connection is
// retried once); with `streamed`, the body is relayed from the client as it arrives.
//
// GCC 12 miscompiles some coroutines: temporaries in a co_await expression, and block-scope
// locals before a `co_return co_await`, can be destroyed twice (ASan caught it here). So every
// co_await here takes named values, failures leave the loop, and one co_await answers them.
Task<Outcome> ForwardToRunning(Worker& w, Target& running, Stream& client,
                               beast::flat_buffer& client_buffer, const std::string& wire,
                               const ForwardRequest* streamed, bool is_head, unsigned version,
                               bool client_keep_alive) {
  const auto& o = w.impl.options;
  auto& counters = w.impl.counters;
  UpstreamFailure failure = UpstreamFailure::kConnect;
  error_code failure_ec;
  std::optional<BodyResult> refused_body;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Pool::Lease lease;
    if (std::optional<Pool::Lease> reused = w.pool.TryReuse(running)) {
      lease = std::move(*reused);
    } else {
      Pool::Lease connected = co_await w.pool.Connect(running, o.connect_timeout);
      lease = std::move(connected);
    }
    if (lease.ec) {
      failure = UpstreamFailure::kConnect;
      failure_ec = lease.ec;
      break;
    }
    Stream& upstream = *lease.stream;
    error_code ec;
    if (!streamed) {
      const auto wire_bytes = asio::buffer(wire);
      upstream.expires_after(o.upstream_timeout);
      auto written = co_await asio::async_write(upstream, wire_bytes, kTuple);
      ec = std::get<0>(written);
    } else {
      auto sent = co_await SendStreamed(w, client, client_buffer, upstream, wire, *streamed);
      if (sent.end == BodyEnd::kClientGone) {
        if (sent.ec == beast::error::timeout) counters.client_timeouts.fetch_add(1, kRelaxed);
        co_return Outcome{0, false};
      }
      if (sent.end == BodyEnd::kInvalid || sent.end == BodyEnd::kTooLarge) {
        refused_body = std::move(sent);  // running's connection is dropped with the lease
        break;
      }
      ec = sent.ec;
    }
    beast::flat_buffer& upstream_buffer = lease.buffer;
    std::optional<http::response_parser<http::empty_body>> rp;
    std::optional<ResponseHead> plain;
    if (!ec) {
      upstream.expires_after(o.upstream_timeout);
      ec = co_await ReadHeadBytes(upstream, upstream_buffer);
    }
    if (!ec) plain = PlainAnswer(upstream_buffer, is_head);
    if (!ec && !plain)
      ec = co_await ReadAnswerHeader(w, upstream, upstream_buffer, rp, client, is_head, version);
    if (ec) {
      if (!streamed && lease.reused && attempt == 0 && IsRetriable(ec)) continue;
      failure = UpstreamFailure::kAnswer;
      failure_ec = ec;
      break;
    }
    if (plain) {
      const unsigned status = plain->status;
      const bool keep_wanted = client_keep_alive && plain->keep_alive;
      bool client_ok = false;
      ec = co_await SendPlain(w, upstream, upstream_buffer, *plain, client, version, keep_wanted,
                              is_head, client_ok);
      if (ec) {
        failure = UpstreamFailure::kBrokeOff;
        failure_ec = ec;
        break;
      }
      counters.CountResponse(status);
      running.served.fetch_add(1, kRelaxed);
      if (plain->keep_alive && upstream_buffer.size() == 0) {
        w.pool.Release(running, std::move(upstream), std::move(upstream_buffer));
      }
      co_return Outcome{status, client_ok && keep_wanted};
    }

    const unsigned status = rp->get().result_int();
    if (status == 101) {
      failure = UpstreamFailure::kSwitchedProtocols;
      break;
    }
    const bool keep_wanted = client_keep_alive && rp->keep_alive();
    bool upstream_keep = rp->keep_alive() && !rp->need_eof();
    bool keep_client = false;
    const auto length = rp->content_length();
    if (HasNoBody(status, is_head) || (length && *length <= kSmallBody)) {
      ec = co_await SendWhole(w, upstream, upstream_buffer, *rp, client, version, keep_wanted,
                              is_head, keep_client);
      if (ec) {
        failure = UpstreamFailure::kBrokeOff;
        failure_ec = ec;
        break;
      }
      counters.CountResponse(status);
      keep_client = keep_client && keep_wanted;
    } else {
      counters.CountResponse(status);
      http::response_parser<http::buffer_body> relay{std::move(*rp)};
      PrepareResponseHeader(relay, version, keep_wanted);
      keep_client = relay.get().keep_alive();
      auto relayed =
          co_await RelayAnswer(upstream, upstream_buffer, relay, client, o.upstream_timeout);
      if (relayed.first) co_return Outcome{status, false};
      upstream_keep = upstream_keep && relay.is_done();
    }
    running.served.fetch_add(1, kRelaxed);
    if (upstream_keep && upstream_buffer.size() == 0) {
      w.pool.Release(running, std::move(upstream), std::move(upstream_buffer));
    }
    co_return Outcome{status, keep_client};
  }
  if (refused_body) {
    const bool too_large = refused_body->end == BodyEnd::kTooLarge;
    (too_large ? counters.too_large : counters.bad_requests).fetch_add(1, kRelaxed);
    const auto status = too_large ? http::status::payload_too_large : http::status::bad_request;
    co_await AnswerError(w, client, status, refused_body->reason, version, false);
    co_return Outcome{static_cast<unsigned>(status), false};
  }
  Outcome failed = co_await AnswerUpstreamFailure(w, client, running, failure, failure_ec, version);
  co_return failed;
}

// Sends the copy to testing and records testing's half of the pair. Never touches the user.
Task<void> Mirror(Worker& w, std::shared_ptr<Target> testing,
                  std::shared_ptr<const std::string> copy, bool is_head,
                  std::shared_ptr<PairState> pair, std::shared_ptr<const MirrorPolicy> mirror) {
  const MirrorPolicy& policy = *mirror;
  auto& counters = w.impl.counters;
  auto start = SteadyClock::now();
  std::string failure;
  unsigned status = 0;
  for (int attempt = 0; attempt < 2 && status == 0; ++attempt) {
    Pool::Lease lease;
    if (std::optional<Pool::Lease> reused = w.pool.TryReuse(*testing)) {
      lease = std::move(*reused);
    } else {
      const auto timeout = std::min(policy.timeout, w.impl.options.connect_timeout);
      Pool::Lease connected = co_await w.pool.Connect(*testing, timeout);
      lease = std::move(connected);
    }
    if (lease.ec) {
      failure = lease.ec == beast::error::timeout ? "connect timeout" : "connect";
      break;
    }
    Stream& upstream = *lease.stream;
    upstream.expires_after(policy.timeout -
                           std::chrono::duration_cast<std::chrono::milliseconds>(Since(start)));
    const auto copy_bytes = asio::buffer(*copy);
    auto written = co_await asio::async_write(upstream, copy_bytes, kTuple);
    const error_code write_ec = std::get<0>(written);
    beast::flat_buffer& buffer = lease.buffer;
    error_code ec = write_ec;
    if (!ec) ec = co_await ReadHeadBytes(upstream, buffer);
    std::optional<ResponseHead> plain;
    if (!ec) plain = PlainAnswer(buffer, is_head);
    if (plain) {
      // The fast path: testing's plain answer is read whole and dropped.
      ec = co_await ReadPlainBody(upstream, buffer, *plain, is_head);
      if (ec) {
        failure = ec == beast::error::timeout ? "timeout" : "read: " + ec.message();
        break;
      }
      status = plain->status;
      buffer.consume(plain->size + (plain->has_body ? *plain->content_length : 0));
      if (plain->keep_alive && buffer.size() == 0) {
        w.pool.Release(*testing, std::move(upstream), std::move(buffer));
      }
      break;
    }
    http::response_parser<http::empty_body> rp;
    rp.body_limit(boost::none);
    if (is_head) rp.skip(true);
    if (!ec)
      std::tie(ec, std::ignore) = co_await http::async_read_header(upstream, buffer, rp, kTuple);
    if (ec && lease.reused && attempt == 0 && IsRetriable(ec)) continue;
    const bool reusable = !ec && rp.keep_alive() && !rp.need_eof() && rp.get().result_int() != 101;
    if (!ec) status = rp.get().result_int();
    if (!ec && !rp.is_done()) {
      // Testing's body is read and dropped, so that the connection stays usable.
      auto length = rp.content_length();
      if (length && *length <= kSmallBody) {
        http::response_parser<http::string_body> full{std::move(rp)};
        std::tie(ec, std::ignore) = co_await http::async_read(upstream, buffer, full, kTuple);
      } else {
        http::response_parser<http::buffer_body> drain{std::move(rp)};
        auto scratch = std::make_unique<char[]>(kRelayChunk);
        while (!ec && !drain.is_done()) {
          drain.get().body().data = scratch.get();
          drain.get().body().size = kRelayChunk;
          std::tie(ec, std::ignore) = co_await http::async_read(upstream, buffer, drain, kTuple);
          if (ec == http::error::need_buffer) ec = {};
        }
      }
    }
    if (ec) {
      status = 0;
      failure = ec == beast::error::timeout ? "timeout" : "read: " + ec.message();
      break;
    }
    if (reusable && buffer.size() == 0) {
      w.pool.Release(*testing, std::move(upstream), std::move(buffer));
    }
  }
  auto latency = Since(start);
  counters.mirror_in_flight.fetch_sub(1, kRelaxed);
  if (status == 0) {
    counters.mirror_failed.fetch_add(1, kRelaxed);
    pair->pair.testing_failed = true;
    pair->pair.testing_error = failure.empty() ? "no answer" : failure;
  } else {
    testing->served.fetch_add(1, kRelaxed);
    counters.testing_latency.Observe(latency);
    pair->pair.testing_status = static_cast<int>(status);
  }
  pair->pair.testing_latency = latency;
  pair->HalfDone();
}

// One request from the client. Returns whether to read another from the same connection.
Task<bool> ServeOne(Worker& w, Stream& client, beast::flat_buffer& buffer,
                    const std::string& client_ip) {
  const auto& o = w.impl.options;
  auto& counters = w.impl.counters;
  // The proxy reads the header and checks its raw bytes (ScanHead); Beast parses it from them.
  // The body is the proxy's to frame (SendStreamed, or read whole below).
  std::optional<http::request_parser<http::empty_body>> head(std::in_place);
  head->header_limit(o.max_header_bytes);
  head->body_limit(o.max_body_bytes);
  head->eager(false);
  error_code ec;
  HeadScan scan;
  for (size_t scanned = 0;;) {
    const std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
    scan = ScanHead(data, scanned);
    if (scan.end != std::string_view::npos || !scan.error.empty()) break;
    if (data.size() >= o.max_header_bytes) {
      ec = http::error::header_limit;
      break;
    }
    scanned = data.size() >= 3 ? data.size() - 3 : 0;
    client.expires_after(o.client_timeout);
    auto space = buffer.prepare(kRelayChunk);
    // Between requests a connection is idle: a drain may close it (and only then).
    IdleMark idle(w, client.socket(), buffer.size() == 0);
    auto read = co_await client.async_read_some(space, kTuple);
    buffer.commit(std::get<1>(read));
    if (std::get<0>(read)) {
      ec = std::get<0>(read);
      break;
    }
  }
  if (!ec && scan.error.empty()) {
    if (scan.end > o.max_header_bytes) {
      ec = http::error::header_limit;
    } else {
      const auto header_bytes = asio::buffer(buffer.data().data(), scan.end);
      head->put(header_bytes, ec);
      if (!ec && !head->is_header_done()) ec = http::error::partial_message;
      buffer.consume(scan.end);
    }
  }
  if (ec || !scan.error.empty()) {
    if (ec == beast::error::timeout) {
      counters.client_timeouts.fetch_add(1, kRelaxed);
      co_return false;
    }
    if (buffer.size() == 0 && (ec == asio::error::eof || ec == asio::error::connection_reset ||
                               ec == asio::error::operation_aborted)) {
      co_return false;
    }
    http::status status = http::status::bad_request;
    if (ec == http::error::header_limit) {
      status = http::status::request_header_fields_too_large;
      counters.headers_too_large.fetch_add(1, kRelaxed);
    } else if (ec == http::error::body_limit) {
      status = http::status::payload_too_large;
      counters.too_large.fetch_add(1, kRelaxed);
    } else {
      counters.bad_requests.fetch_add(1, kRelaxed);
    }
    counters.requests.fetch_add(1, kRelaxed);
    const std::string detail = scan.error.empty() ? ec.message() : scan.error;
    co_await AnswerError(w, client, status, detail, 11, false);
    co_return false;
  }
  counters.requests.fetch_add(1, kRelaxed);
  auto start = SteadyClock::now();
  const EnteredTargets targets = w.impl.Enter();
  const std::string default_host =
      targets->running
          ? targets->running->upstream.host + ":" + std::to_string(targets->running->upstream.port)
          : std::string("localhost");
  auto decided = DecideRequest(head->get(), client_ip, default_host,
                               w.impl.options.trusted_proxies.Trusts(client_ip));
  const unsigned version = head->get().version();
  head.reset();
  if (!decided) {
    counters.bad_requests.fetch_add(1, kRelaxed);
    const Refusal refusal = decided.error();
    co_await AnswerError(w, client, refusal.status, refusal.reason, version, false);
    co_return false;
  }
  const ForwardRequest& request = *decided;
  const std::optional<uint64_t> body_bytes =
      request.framing == Framing::kChunked
          ? std::nullopt
          : std::optional<uint64_t>(request.framing == Framing::kLength ? request.content_length
                                                                        : 0);
  if (request.framing == Framing::kLength && request.content_length > o.max_body_bytes) {
    counters.too_large.fetch_add(1, kRelaxed);
    co_await AnswerError(w, client, http::status::payload_too_large, "body over the limit", version,
                         false);
    co_return false;
  }
  if (!targets->running) {
    counters.upstream_unreachable.fetch_add(1, kRelaxed);
    bool keep = request.keep_alive && body_bytes == 0u;
    co_await AnswerError(w, client, http::status::bad_gateway, "no running instance", version,
                         keep);
    co_return keep;
  }
  if (request.expect_continue) {
    // Answered here: the body is read before running sees the request.
    http::response<http::empty_body> go_on{http::status::continue_, version};
    client.expires_after(o.client_timeout);
    co_await http::async_write(client, go_on, kTuple);
  }

  const bool is_head = request.method == "HEAD";
  std::shared_ptr<PairState> pair;
  std::optional<MirrorDrop> drop;
  std::string route;
  const MirrorPolicy& mirror = *targets->mirror;
  if (mirror.enabled && targets->testing) {
    route = w.impl.folder.Fold(request.target);
    drop = CheckMirror(mirror, true, request.method, route, body_bytes);
    if (!drop && counters.mirror_in_flight.load(kRelaxed) >= mirror.max_in_flight) {
      drop = MirrorDrop::kInFlightLimit;
    }
  } else {
    drop = mirror.enabled ? MirrorDrop::kNoTesting : MirrorDrop::kDisabled;
  }
  if (drop) counters.CountDrop(*drop);

  // While draining for an upgrade, the answer closes the connection: the client's next request
  // opens a new one, which waits in the backlog for the new image.
  const bool keep_alive = request.keep_alive && !w.impl.draining.load(kRelaxed);
  Outcome outcome;
  std::string wire;
  AppendHead(request, false, {}, wire);
  // A body is read whole only when it is copied to testing (CheckMirror bounds it by
  // mirror.max_body_bytes) or small; anything else streams through.
  if (body_bytes && (!drop || *body_bytes <= kSmallBody)) {
    const size_t head_size = wire.size();
    const size_t from_buffer = static_cast<size_t>(std::min<uint64_t>(*body_bytes, buffer.size()));
    wire.append(static_cast<const char*>(buffer.data().data()), from_buffer);
    buffer.consume(from_buffer);
    if (wire.size() - head_size < *body_bytes) {
      wire.resize(head_size + *body_bytes);
      const auto rest =
          asio::buffer(wire.data() + head_size + from_buffer, *body_bytes - from_buffer);
      client.expires_after(o.client_timeout);
      auto body_read = co_await asio::async_read(client, rest, kTuple);
      const error_code read_ec = std::get<0>(body_read);
      if (read_ec) {
        if (read_ec == beast::error::timeout) counters.client_timeouts.fetch_add(1, kRelaxed);
        co_return false;
      }
    }
    if (!drop) {
      auto copy = std::make_shared<std::string>();
      copy->reserve(wire.size() + 32);
      const auto& strip = StripHeadersFor(mirror, request.method, route);
      const bool stripped = AppendHead(request, true, strip, *copy);
      copy->append(wire, head_size);
      pair = std::make_shared<PairState>();
      pair->sink = w.impl.sink;
      pair->counters = &counters;
      pair->pair.method = request.method;
      pair->pair.route = route;
      pair->pair.credentials_stripped = stripped;
      counters.mirror_sent.fetch_add(1, kRelaxed);
      counters.mirror_in_flight.fetch_add(1, kRelaxed);
      asio::co_spawn(w.io.get_executor(),
                     Mirror(w, targets->testing, copy, is_head, pair, targets->mirror), LogFailure);
      if (w.impl.body_sampler.Take(mirror, request.method)) {
        // Sampled: the same copy to running, testing and running again, for body_diff.
        BodySampleJob job{targets->running->endpoint,
                          targets->testing->endpoint,
                          copy,
                          route,
                          targets->running->upstream.version,
                          targets->testing->upstream.version,
                          strip.empty(),
                          mirror.body_sample_max_bytes,
                          mirror.timeout,
                          &targets->running->served,
                          &targets->testing->served,
                          targets.shared()};
        SpawnBodySample(w.io, std::move(job), w.impl.body_sampler, w.impl.sink);
      }
    }
    outcome = co_await ForwardToRunning(w, *targets->running, client, buffer, wire, nullptr,
                                        is_head, version, keep_alive);
  } else {
    outcome = co_await ForwardToRunning(w, *targets->running, client, buffer, wire, &request,
                                        is_head, version, keep_alive);
  }
  auto latency = Since(start);
  counters.running_latency.Observe(latency);
  if (pair) {
    pair->pair.running_status = static_cast<int>(outcome.status);
    pair->pair.running_latency = latency;
    pair->HalfDone();
  }
  co_return outcome.keep_client;
}

Task<void> Session(Worker& w, Socket socket) {
  auto& counters = w.impl.counters;
  counters.connections_open.fetch_add(1, kRelaxed);
  Stream client(std::move(socket));
  error_code ec;
  auto remote = client.socket().remote_endpoint(ec);
  std::string client_ip = ec ? "unknown" : remote.address().to_string();
  beast::flat_buffer buffer;
  while (co_await ServeOne(w, client, buffer, client_ip)) {
  }
  client.socket().shutdown(tcp::socket::shutdown_send, ec);
  counters.connections_open.fetch_sub(1, kRelaxed);
}

Task<void> Accept(Worker& w) {
  auto& counters = w.impl.counters;
  while (w.acceptor.is_open()) {
    auto accepted = co_await w.acceptor.async_accept(kTuple);
    error_code ec = std::get<0>(accepted);
    Socket socket = std::move(std::get<1>(accepted));
    if (ec == asio::error::operation_aborted || !w.acceptor.is_open()) co_return;
    if (ec) {
      // Out of file descriptors and the like: back off a little instead of spinning.
      spdlog::warn("proxy: accept failed: {}", ec.message());
      Timer pause(w.io.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    counters.connections_accepted.fetch_add(1, kRelaxed);
    if (counters.connections_open.load(kRelaxed) >= w.impl.options.max_connections) {
      counters.connections_refused.fetch_add(1, kRelaxed);
      continue;  // the socket closes as it goes out of scope
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(w.io.get_executor(), Session(w, std::move(socket)), LogFailure);
  }
}

// While draining: closes connections idle for longer than `grace`, every 20 ms, until the worker
// stops. One idle past the grace is a client that sent nothing; one that does send in time is
// answered with `Connection: close`.
Task<void> CloseIdle(Worker& w, std::chrono::milliseconds grace) {
  Timer timer(w.io.get_executor());
  while (true) {
    const auto cutoff = SteadyClock::now() - grace;
    for (auto& [socket, since] : w.idle) {
      error_code ec;
      if (since <= cutoff) socket->cancel(ec);
    }
    timer.expires_after(std::chrono::milliseconds(20));
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
  }
}

StatusOr<tcp::endpoint> Resolve(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, port);
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) return Fail("cannot resolve " + host + ": " + ec.message());
  return results.begin()->endpoint();
}

}  // namespace

Proxy::Proxy(ProxyOptions options, EvidenceSink* sink)
    : impl_(std::make_unique<Impl>(std::move(options), sink)) {}

Proxy::~Proxy() { Stop(); }

Status Proxy::Start(const HostPort& listen, int listening_fd) {
  tcp::endpoint endpoint;
  if (listening_fd < 0) {
    YOKE_ASSIGN_OR_RETURN(endpoint, Resolve(listen.host, listen.port));
  }
  impl_->draining = false;
  unsigned threads = std::max(1u, impl_->options.threads);
  // One listening socket, shared by every worker (each holds a duplicate of its descriptor).
  // No SO_REUSEPORT: another process that binds the port must fail, not take users.
  for (unsigned i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>(*impl_);
    error_code ec;
    if (i == 0 && listening_fd >= 0) {
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      if (::getsockname(listening_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ec = error_code(errno, boost::system::system_category());
      } else {
        const auto protocol = address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
        worker->acceptor.assign(protocol, listening_fd, ec);
      }
      if (!ec) endpoint = worker->acceptor.local_endpoint(ec);
    } else if (i == 0) {
      worker->acceptor.open(endpoint.protocol(), ec);
      if (!ec) worker->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
      if (!ec) worker->acceptor.bind(endpoint, ec);
      if (!ec) worker->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    } else {
      int fd = ::fcntl(impl_->workers.front()->acceptor.native_handle(), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) {
        ec = error_code(errno, boost::system::system_category());
      } else {
        worker->acceptor.assign(endpoint.protocol(), fd, ec);
        if (ec) ::close(fd);
      }
    }
    if (ec) {
      Stop();
      if (listening_fd >= 0) {
        return Fail("proxy cannot take over the listening socket (fd " +
                    std::to_string(listening_fd) + "): " + ec.message());
      }
      return Fail("proxy cannot listen on " + listen.host + ":" + std::to_string(endpoint.port()) +
                  ": " + ec.message());
    }
    if (i == 0 && listening_fd < 0) endpoint.port(worker->acceptor.local_endpoint().port());
    impl_->workers.push_back(std::move(worker));
  }
  impl_->port = endpoint.port();
  for (auto& worker : impl_->workers) {
    Worker* w = worker.get();
    asio::co_spawn(w->io.get_executor(), Accept(*w), LogFailure);
    w->thread = std::thread([w] { w->io.run(); });
  }
  return Ok();
}

int Proxy::listening_fd() const {
  if (impl_->workers.empty()) return -1;
  return impl_->workers.front()->acceptor.native_handle();
}

uint64_t Proxy::Drain(std::chrono::milliseconds timeout, std::chrono::milliseconds idle_grace) {
  impl_->draining = true;
  for (auto& worker : impl_->workers) {
    Worker* w = worker.get();
    asio::post(w->io, [w, idle_grace] {
      error_code ec;
      w->acceptor.close(ec);
      asio::co_spawn(w->io.get_executor(), CloseIdle(*w, idle_grace), LogFailure);
    });
  }
  const auto deadline = SteadyClock::now() + timeout;
  auto& open = impl_->counters.connections_open;
  // The workers own the connections; this thread only watches the count (bounded by timeout).
  while (open.load() > 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return open.load();
}

uint16_t Proxy::port() const { return impl_->port; }

void Proxy::Stop() {
  for (auto& worker : impl_->workers) {
    Worker* w = worker.get();
    asio::post(w->io, [w] {
      error_code ec;
      w->acceptor.close(ec);
    });
    w->io.stop();
  }
  for (auto& worker : impl_->workers) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  impl_->workers.clear();
}

void Proxy::Publish(UpstreamSnapshot snapshot) {
  auto targets = std::make_shared<Targets>();
  std::lock_guard lock(impl_->mu);
  auto target_for = [&](const std::optional<Upstream>& upstream) -> std::shared_ptr<Target> {
    if (!upstream) return nullptr;
    auto key = std::make_pair(upstream->host, upstream->port);
    // Shared with requests under way on other threads: never written once published.
    if (auto existing = impl_->registry[key].lock()) return existing;
    auto endpoint = Resolve(upstream->host, upstream->port);
    if (!endpoint) {
      spdlog::error("proxy: {}", endpoint.error().message());
      return nullptr;
    }
    auto target = std::make_shared<Target>();
    target->upstream = *upstream;
    target->endpoint = *endpoint;
    impl_->registry[key] = target;
    return target;
  };
  targets->running = target_for(snapshot.running);
  targets->testing = target_for(snapshot.testing);
  impl_->mirror_is_default = !snapshot.mirror;
  targets->mirror = snapshot.mirror ? std::move(snapshot.mirror)
                                    : std::make_shared<const MirrorPolicy>(impl_->options.mirror);
  impl_->targets = targets;
  for (auto it = impl_->registry.begin(); it != impl_->registry.end();) {
    it = it->second.expired() ? impl_->registry.erase(it) : std::next(it);
  }
  for (auto& worker : impl_->workers) {
    Worker* w = worker.get();
    asio::post(w->io, [w, targets] { w->pool.Prune(*targets); });
  }
}

namespace {

// The target a snapshot names for `upstream`, if one still does.
std::shared_ptr<Target> FindTarget(Proxy::Impl& impl, const Upstream& upstream) {
  std::lock_guard lock(impl.mu);
  auto it = impl.registry.find({upstream.host, upstream.port});
  return it == impl.registry.end() ? nullptr : it->second.lock();
}

}  // namespace

uint64_t Proxy::Served(const Upstream& upstream) const {
  auto target = FindTarget(*impl_, upstream);
  return target ? target->served.load() : 0;
}

uint64_t Proxy::InFlight(const Upstream& upstream) const {
  auto target = FindTarget(*impl_, upstream);
  return target ? target->in_flight.load() : 0;
}

UpstreamSnapshot Proxy::Current() const {
  auto targets = impl_->Load();
  UpstreamSnapshot snapshot;
  if (targets->running) snapshot.running = targets->running->upstream;
  if (targets->testing) snapshot.testing = targets->testing->upstream;
  snapshot.mirror = targets->mirror;
  return snapshot;
}

ProxyStats Proxy::Stats() const { return impl_->counters.Snapshot(); }

void Proxy::SetDefaultMirror(MirrorPolicy policy) {
  std::lock_guard lock(impl_->mu);
  impl_->options.mirror = std::move(policy);  // read only under mu, by Publish
  if (!impl_->mirror_is_default) return;
  auto targets = std::make_shared<Targets>(*impl_->targets);
  targets->mirror = std::make_shared<const MirrorPolicy>(impl_->options.mirror);
  impl_->targets = std::move(targets);
}

}  // namespace yoke::proxy
