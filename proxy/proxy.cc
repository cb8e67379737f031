#include "proxy/proxy.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "core/route.h"
#include "proxy/http_rules.h"

namespace yoke::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using beast::error_code;
// Concrete executor types throughout: the type-erased any_io_executor showed up in profiles.
using Executor = asio::io_context::executor_type;
using Stream = beast::basic_stream<tcp, Executor>;
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

class InFlight {
 public:
  explicit InFlight(std::atomic<uint64_t>& counter) : counter_(counter) { ++counter_; }
  ~InFlight() { --counter_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<uint64_t>& counter_;
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
  };

  Task<Lease> Acquire(const Target& target, std::chrono::milliseconds timeout) {
    auto& idle = idle_[target.endpoint];
    while (!idle.empty()) {
      Idle entry = std::move(idle.back());
      idle.pop_back();
      // A connection used a moment ago is almost surely open (and a stale one is retried);
      // one that sat idle is checked first, at the cost of a syscall.
      if (SteadyClock::now() - entry.since < std::chrono::seconds(2) || StillOpen(entry.stream)) {
        co_return Lease{{}, std::move(entry.stream), true};
      }
    }
    Lease lease;
    lease.stream.emplace(io_.get_executor());
    lease.stream->expires_after(timeout);
    auto connected = co_await lease.stream->async_connect(target.endpoint, kTuple);
    lease.ec = std::get<0>(connected);
    error_code ignored;
    if (!lease.ec) lease.stream->socket().set_option(tcp::no_delay(true), ignored);
    co_return lease;
  }

  void Release(const Target& target, Stream stream) {
    auto& idle = idle_[target.endpoint];
    if (idle.size() >= max_idle_) return;
    stream.expires_never();
    idle.push_back(Idle{std::move(stream), SteadyClock::now()});
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

  mutable std::mutex mu;
  std::shared_ptr<const Targets> targets = std::make_shared<Targets>();        // GUARDED_BY(mu)
  std::map<std::pair<std::string, uint16_t>, std::weak_ptr<Target>> registry;  // GUARDED_BY(mu)

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
};

namespace {

struct Worker {
  Proxy::Impl& impl;
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

// Writes the proxy's own answer and counts it.
Task<void> AnswerError(Worker& w, Stream& client, http::status status, std::string_view detail,
                       unsigned version, bool keep_alive) {
  auto res = ErrorResponse(status, detail, version, keep_alive);
  w.impl.counters.CountResponse(res.result_int());
  client.expires_after(w.impl.options.client_timeout);
  co_await http::async_write(client, res, kTuple);
}

// Relays a message whose header is already in `parser` from `in` to `out`, streaming the body
// through a small buffer (Beast's relay pattern). Returns the first error from either side and
// which side it came from.
template <bool isRequest>
Task<std::pair<error_code, bool /*from_out*/>> Relay(
    Stream& in, beast::flat_buffer& in_buffer, http::parser<isRequest, http::buffer_body>& parser,
    Stream& out, std::chrono::milliseconds timeout) {
  http::serializer<isRequest, http::buffer_body> serializer{parser.get()};
  // On the heap: inside the coroutine frame it would make every frame this large.
  auto chunk = std::make_unique<char[]>(kRelayChunk);
  do {
    auto& body = parser.get().body();
    if (!parser.is_done()) {
      body.data = chunk.get();
      body.size = kRelayChunk;
      in.expires_after(timeout);
      auto read = co_await http::async_read(in, in_buffer, parser, kTuple);
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
    out.expires_after(timeout);
    auto written = co_await http::async_write(out, serializer, kTuple);
    error_code ec = std::get<0>(written);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return std::pair{ec, true};
  } while (!parser.is_done() && !serializer.is_done());
  co_return std::pair{error_code{}, false};
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

enum class UpstreamFailure { kConnect, kAnswer, kBrokeOff };

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

// The common case: reads the rest of a small answer and sends it whole, in one write. Returns
// an upstream read error (nothing has reached the client then); `client_ok` says whether the
// write to the client worked.
Task<error_code> SendWhole(Worker& w, Stream& upstream, beast::flat_buffer& upstream_buffer,
                           http::response_parser<http::empty_body>& header, Stream& client,
                           unsigned version, bool keep_alive, bool& client_ok) {
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
  client.expires_after(o.client_timeout);
  auto written = co_await http::async_write(client, res, kTuple);
  client_ok = !std::get<0>(written);
  co_return error_code{};
}

// Sends one request to running and relays the answer. `buffered` is the whole request when
// the body was read up front (then a stale pooled connection is retried once); otherwise
// `streaming` holds the client's parser and the body is relayed as it arrives.
//
// GCC 12 miscompiles some coroutines: temporaries in a co_await expression, and block-scope
// locals before a `co_return co_await`, can be destroyed twice (ASan caught it here). So every
// co_await here takes named values, failures leave the loop, and one co_await answers them.
Task<Outcome> ForwardToRunning(Worker& w, Target& running, Stream& client,
                               beast::flat_buffer& client_buffer,
                               http::request<http::string_body>* buffered,
                               http::request_parser<http::buffer_body>* streaming, bool is_head,
                               unsigned version, bool client_keep_alive) {
  const auto& o = w.impl.options;
  auto& counters = w.impl.counters;
  UpstreamFailure failure = UpstreamFailure::kConnect;
  error_code failure_ec;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = co_await w.pool.Acquire(running, o.connect_timeout);
    if (lease.ec) {
      failure = UpstreamFailure::kConnect;
      failure_ec = lease.ec;
      break;
    }
    Stream& upstream = *lease.stream;
    error_code ec;
    if (buffered) {
      upstream.expires_after(o.upstream_timeout);
      auto written = co_await http::async_write(upstream, *buffered, kTuple);
      ec = std::get<0>(written);
    } else {
      auto relayed =
          co_await Relay<true>(client, client_buffer, *streaming, upstream, o.client_timeout);
      if (relayed.first && !relayed.second) co_return Outcome{0, false};  // the client left
      ec = relayed.first;
    }
    beast::flat_buffer upstream_buffer;
    std::optional<http::response_parser<http::empty_body>> rp;
    if (!ec)
      ec = co_await ReadAnswerHeader(w, upstream, upstream_buffer, rp, client, is_head, version);
    if (ec) {
      if (buffered && lease.reused && attempt == 0 && IsRetriable(ec)) continue;
      failure = UpstreamFailure::kAnswer;
      failure_ec = ec;
      break;
    }

    const unsigned status = rp->get().result_int();
    const bool keep_wanted = client_keep_alive && rp->keep_alive();
    bool upstream_keep = rp->keep_alive() && !rp->need_eof();
    bool keep_client = false;
    const auto length = rp->content_length();
    if (HasNoBody(status, is_head) || (length && *length <= kSmallBody)) {
      ec = co_await SendWhole(w, upstream, upstream_buffer, *rp, client, version, keep_wanted,
                              keep_client);
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
          co_await Relay<false>(upstream, upstream_buffer, relay, client, o.upstream_timeout);
      if (relayed.first) co_return Outcome{status, false};
      upstream_keep = upstream_keep && relay.is_done();
    }
    running.served.fetch_add(1, kRelaxed);
    if (upstream_keep && upstream_buffer.size() == 0) {
      w.pool.Release(running, std::move(upstream));
    }
    co_return Outcome{status, keep_client};
  }
  Outcome failed = co_await AnswerUpstreamFailure(w, client, running, failure, failure_ec, version);
  co_return failed;
}

// Sends the copy to testing and records testing's half of the pair. Never touches the user.
Task<void> Mirror(Worker& w, std::shared_ptr<Target> testing,
                  std::shared_ptr<http::request<http::string_body>> copy,
                  std::shared_ptr<PairState> pair, std::shared_ptr<const MirrorPolicy> mirror) {
  const MirrorPolicy& policy = *mirror;
  auto& counters = w.impl.counters;
  auto start = SteadyClock::now();
  bool is_head = copy->method() == http::verb::head;
  std::string failure;
  unsigned status = 0;
  for (int attempt = 0; attempt < 2 && status == 0; ++attempt) {
    auto lease =
        co_await w.pool.Acquire(*testing, std::min(policy.timeout, w.impl.options.connect_timeout));
    if (lease.ec) {
      failure = lease.ec == beast::error::timeout ? "connect timeout" : "connect";
      break;
    }
    Stream& upstream = *lease.stream;
    upstream.expires_after(policy.timeout -
                           std::chrono::duration_cast<std::chrono::milliseconds>(Since(start)));
    auto written = co_await http::async_write(upstream, *copy, kTuple);
    const error_code write_ec = std::get<0>(written);
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> rp;
    rp.body_limit(boost::none);
    if (is_head) rp.skip(true);
    error_code ec = write_ec;
    if (!ec)
      std::tie(ec, std::ignore) = co_await http::async_read_header(upstream, buffer, rp, kTuple);
    if (ec && lease.reused && attempt == 0 && IsRetriable(ec)) continue;
    const bool reusable = !ec && rp.keep_alive() && !rp.need_eof();
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
      w.pool.Release(*testing, std::move(upstream));
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
  http::request_parser<http::empty_body> head;
  head.header_limit(o.max_header_bytes);
  head.body_limit(o.max_body_bytes);
  client.expires_after(o.client_timeout);
  auto header_read = co_await http::async_read_header(client, buffer, head, kTuple);
  const error_code ec = std::get<0>(header_read);
  if (ec) {
    if (ec == beast::error::timeout) {
      counters.client_timeouts.fetch_add(1, kRelaxed);
      co_return false;
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
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
    const std::string detail = ec.message();
    co_await AnswerError(w, client, status, detail, 11, false);
    co_return false;
  }
  counters.requests.fetch_add(1, kRelaxed);
  auto start = SteadyClock::now();
  auto& h = head.get();
  const unsigned version = h.version();
  const bool client_keep_alive = h.keep_alive();
  if (auto risk = SmugglingRisk(h); !risk.empty()) {
    counters.bad_requests.fetch_add(1, kRelaxed);
    co_await AnswerError(w, client, http::status::bad_request, risk, version, false);
    co_return false;
  }
  const std::optional<uint64_t> body_bytes =
      head.chunked() ? std::nullopt : std::optional<uint64_t>(head.content_length().value_or(0));
  auto targets = w.impl.Load();
  if (!targets->running) {
    counters.upstream_unreachable.fetch_add(1, kRelaxed);
    bool keep = client_keep_alive && body_bytes == 0u;
    co_await AnswerError(w, client, http::status::bad_gateway, "no running instance", version,
                         keep);
    co_return keep;
  }
  if (boost::beast::iequals(h[http::field::expect], "100-continue")) {
    // Answered here: the body is read before running sees the request.
    h.erase(http::field::expect);
    http::response<http::empty_body> go_on{http::status::continue_, version};
    client.expires_after(o.client_timeout);
    co_await http::async_write(client, go_on, kTuple);
  }

  const std::string method(h.method_string());
  const bool is_head = h.method() == http::verb::head;
  std::shared_ptr<PairState> pair;
  std::optional<MirrorDrop> drop;
  std::string route;
  const MirrorPolicy& mirror = *targets->mirror;
  if (mirror.enabled && targets->testing) {
    route = w.impl.folder.Fold(h.target());
    drop = CheckMirror(mirror, true, method, route, body_bytes);
    if (!drop && counters.mirror_in_flight.load(kRelaxed) >= mirror.max_in_flight) {
      drop = MirrorDrop::kInFlightLimit;
    }
  } else {
    drop = mirror.enabled ? MirrorDrop::kNoTesting : MirrorDrop::kDisabled;
  }
  if (drop) counters.CountDrop(*drop);

  InFlight in_flight(targets->running->in_flight);
  Outcome outcome;
  const bool buffer_body =
      body_bytes && *body_bytes <= std::max<uint64_t>(mirror.max_body_bytes, 64 * 1024);
  if (buffer_body) {
    http::request_parser<http::string_body> full{std::move(head)};
    if (!full.is_done()) {
      client.expires_after(o.client_timeout);
      auto body_read = co_await http::async_read(client, buffer, full, kTuple);
      const error_code read_ec = std::get<0>(body_read);
      if (read_ec) {
        if (read_ec == beast::error::timeout) counters.client_timeouts.fetch_add(1, kRelaxed);
        co_return false;
      }
    }
    http::request<http::string_body> req = full.release();
    StripHopByHop(req);
    AddForwarded(req, client_ip, "http");
    req.version(11);
    if (!drop) {
      auto copy = std::make_shared<http::request<http::string_body>>(req);
      PrepareMirrorCopy(*copy, mirror);
      pair = std::make_shared<PairState>();
      pair->sink = w.impl.sink;
      pair->counters = &counters;
      pair->pair.method = method;
      pair->pair.route = route;
      counters.mirror_sent.fetch_add(1, kRelaxed);
      counters.mirror_in_flight.fetch_add(1, kRelaxed);
      asio::co_spawn(w.io.get_executor(),
                     Mirror(w, targets->testing, std::move(copy), pair, targets->mirror),
                     LogFailure);
    }
    outcome = co_await ForwardToRunning(w, *targets->running, client, buffer, &req, nullptr,
                                        is_head, version, client_keep_alive);
  } else {
    http::request_parser<http::buffer_body> streaming{std::move(head)};
    auto& msg = streaming.get();
    bool chunked = streaming.chunked();
    StripHopByHop(msg);
    if (chunked) msg.chunked(true);
    AddForwarded(msg, client_ip, "http");
    msg.version(11);
    outcome = co_await ForwardToRunning(w, *targets->running, client, buffer, nullptr, &streaming,
                                        is_head, version, client_keep_alive);
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

Status Proxy::Start(const HostPort& listen) {
  YOKE_ASSIGN_OR_RETURN(tcp::endpoint endpoint, Resolve(listen.host, listen.port));
  unsigned threads = std::max(1u, impl_->options.threads);
  for (unsigned i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>(*impl_);
    error_code ec;
    worker->acceptor.open(endpoint.protocol(), ec);
    if (!ec) worker->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
      worker->acceptor.set_option(reuse_port(true), ec);
    }
    if (!ec) worker->acceptor.bind(endpoint, ec);
    if (!ec) worker->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      Stop();
      return Fail("proxy cannot listen on " + listen.host + ":" + std::to_string(endpoint.port()) +
                  ": " + ec.message());
    }
    // Every worker listens on the port the first one got.
    endpoint.port(worker->acceptor.local_endpoint().port());
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

}  // namespace yoke::proxy
