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
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kRelayChunk = 16 * 1024;
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
};

struct Targets {
  std::shared_ptr<Target> running;
  std::shared_ptr<Target> testing;
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
    std::optional<beast::tcp_stream> stream;
    bool reused = false;
  };

  asio::awaitable<Lease> Acquire(const Target& target, std::chrono::milliseconds timeout) {
    auto& idle = idle_[target.endpoint];
    while (!idle.empty()) {
      beast::tcp_stream stream = std::move(idle.back());
      idle.pop_back();
      if (StillOpen(stream)) co_return Lease{{}, std::move(stream), true};
    }
    Lease lease;
    lease.stream.emplace(io_);
    lease.stream->expires_after(timeout);
    auto [ec] = co_await lease.stream->async_connect(target.endpoint, kTuple);
    lease.ec = ec;
    if (!ec) lease.stream->socket().set_option(tcp::no_delay(true), ec);
    co_return lease;
  }

  void Release(const Target& target, beast::tcp_stream stream) {
    auto& idle = idle_[target.endpoint];
    if (idle.size() >= max_idle_) return;
    stream.expires_never();
    idle.push_back(std::move(stream));
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
  static bool StillOpen(beast::tcp_stream& stream) {
    char byte;
    ssize_t n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  asio::io_context& io_;
  uint32_t max_idle_;
  std::map<tcp::endpoint, std::vector<beast::tcp_stream>> idle_;
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
      : options(std::move(o)), sink(s), folder(options.route_patterns) {}

  std::shared_ptr<const Targets> Load() const {
    std::lock_guard lock(mu);
    return targets;
  }
};

namespace {

struct Worker {
  Proxy::Impl& impl;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
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
asio::awaitable<void> AnswerError(Worker& w, beast::tcp_stream& client, http::status status,
                                  std::string_view detail, unsigned version, bool keep_alive) {
  auto res = ErrorResponse(status, detail, version, keep_alive);
  w.impl.counters.CountResponse(res.result_int());
  client.expires_after(w.impl.options.client_timeout);
  co_await http::async_write(client, res, kTuple);
}

// Relays a message whose header is already in `parser` from `in` to `out`, streaming the body
// through a small buffer (Beast's relay pattern). Returns the first error from either side and
// which side it came from.
template <bool isRequest>
asio::awaitable<std::pair<error_code, bool /*from_out*/>> Relay(
    beast::tcp_stream& in, beast::flat_buffer& in_buffer,
    http::parser<isRequest, http::buffer_body>& parser, beast::tcp_stream& out,
    std::chrono::milliseconds timeout, bool header_only) {
  http::serializer<isRequest, http::buffer_body> serializer{parser.get()};
  out.expires_after(timeout);
  if (header_only) {
    serializer.split(true);
    auto [ec, n] = co_await http::async_write_header(out, serializer, kTuple);
    co_return std::pair{ec, true};
  }
  char chunk[kRelayChunk];
  do {
    auto& body = parser.get().body();
    if (!parser.is_done()) {
      body.data = chunk;
      body.size = sizeof chunk;
      in.expires_after(timeout);
      auto [ec, n] = co_await http::async_read(in, in_buffer, parser, kTuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return std::pair{ec, false};
      body.size = sizeof chunk - body.size;
      body.data = chunk;
      body.more = !parser.is_done();
    } else {
      body.data = nullptr;
      body.size = 0;
    }
    out.expires_after(timeout);
    auto [ec, n] = co_await http::async_write(out, serializer, kTuple);
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
  bool chunked = rp.chunked() || (!rp.content_length() && !HasNoBody(msg.result_int(), false));
  StripHopByHop(msg);
  msg.version(version);
  if (chunked && version >= 11) msg.chunked(true);
  msg.keep_alive(keep_alive && !(chunked && version < 11));
}

struct Outcome {
  unsigned status = 0;
  bool keep_client = false;
};

// Sends one request to running and relays the answer. `buffered` is the whole request when
// the body was read up front (then a stale pooled connection is retried once); otherwise
// `streaming` holds the client's parser and the body is relayed as it arrives.
asio::awaitable<Outcome> ForwardToRunning(Worker& w, Target& running, beast::tcp_stream& client,
                                          beast::flat_buffer& client_buffer,
                                          http::request<http::string_body>* buffered,
                                          http::request_parser<http::buffer_body>* streaming,
                                          bool is_head, unsigned version, bool client_keep_alive) {
  const auto& o = w.impl.options;
  auto& counters = w.impl.counters;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = co_await w.pool.Acquire(running, o.connect_timeout);
    if (lease.ec) {
      bool timeout = lease.ec == beast::error::timeout;
      (timeout ? counters.upstream_timeouts : counters.upstream_unreachable).fetch_add(1, kRelaxed);
      auto status = timeout ? http::status::gateway_timeout : http::status::bad_gateway;
      co_await AnswerError(w, client, status,
                           "running instance " + running.upstream.host + ":" +
                               std::to_string(running.upstream.port) + " is unreachable (" +
                               lease.ec.message() + ")",
                           version, false);
      co_return Outcome{static_cast<unsigned>(status), false};
    }
    beast::tcp_stream& upstream = *lease.stream;
    error_code ec;
    if (buffered) {
      upstream.expires_after(o.upstream_timeout);
      std::tie(ec, std::ignore) = co_await http::async_write(upstream, *buffered, kTuple);
    } else {
      auto [relay_ec, from_upstream] = co_await Relay<true>(client, client_buffer, *streaming,
                                                            upstream, o.client_timeout, false);
      if (relay_ec && !from_upstream) co_return Outcome{0, false};  // the client went away
      ec = relay_ec;
    }
    beast::flat_buffer upstream_buffer;
    std::optional<http::response_parser<http::buffer_body>> rp;
    if (!ec) {
      // Interim 1xx answers (103 Early Hints) pass through; 100 Continue was ours to send.
      while (true) {
        rp.emplace();
        rp->body_limit(boost::none);
        if (is_head) rp->skip(true);
        upstream.expires_after(o.upstream_timeout);
        std::tie(ec, std::ignore) =
            co_await http::async_read_header(upstream, upstream_buffer, *rp, kTuple);
        if (ec || rp->get().result_int() / 100 != 1 || rp->get().result_int() == 101) break;
        if (rp->get().result_int() != 100) {
          StripHopByHop(rp->get());
          http::response<http::empty_body> interim{rp->get().result(), version};
          for (const auto& field : rp->get()) interim.set(field.name_string(), field.value());
          client.expires_after(o.client_timeout);
          co_await http::async_write(client, interim, kTuple);
        }
      }
    }
    if (ec) {
      if (buffered && lease.reused && attempt == 0 && IsRetriable(ec)) continue;
      bool timeout = ec == beast::error::timeout;
      (timeout ? counters.upstream_timeouts : counters.upstream_unreachable).fetch_add(1, kRelaxed);
      auto status = timeout ? http::status::gateway_timeout : http::status::bad_gateway;
      co_await AnswerError(w, client, status,
                           timeout ? "running did not answer in time"
                                   : "running closed the connection (" + ec.message() + ")",
                           version, false);
      co_return Outcome{static_cast<unsigned>(status), false};
    }

    unsigned status = rp->get().result_int();
    bool upstream_keep = rp->keep_alive() && !rp->need_eof();
    bool no_body = HasNoBody(status, is_head);
    bool keep_client = client_keep_alive && rp->keep_alive();
    PrepareResponseHeader(*rp, version, keep_client);
    keep_client = rp->get().keep_alive();
    counters.CountResponse(status);
    auto [relay_ec, to_client] =
        co_await Relay<false>(upstream, upstream_buffer, *rp, client, o.upstream_timeout, no_body);
    if (relay_ec) co_return Outcome{status, false};
    if (upstream_keep && (no_body || rp->is_done()) && upstream_buffer.size() == 0) {
      w.pool.Release(running, std::move(upstream));
    }
    co_return Outcome{status, keep_client};
  }
  co_return Outcome{502, false};  // not reached: the second attempt always returns
}

// Sends the copy to testing and records testing's half of the pair. Never touches the user.
asio::awaitable<void> Mirror(Worker& w, std::shared_ptr<Target> testing,
                             std::shared_ptr<http::request<http::string_body>> copy,
                             std::shared_ptr<PairState> pair) {
  const auto& policy = w.impl.options.mirror;
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
    beast::tcp_stream& upstream = *lease.stream;
    upstream.expires_after(policy.timeout -
                           std::chrono::duration_cast<std::chrono::milliseconds>(Since(start)));
    auto [write_ec, wn] = co_await http::async_write(upstream, *copy, kTuple);
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> rp;
    rp.body_limit(boost::none);
    if (is_head) rp.skip(true);
    error_code ec = write_ec;
    if (!ec)
      std::tie(ec, std::ignore) = co_await http::async_read_header(upstream, buffer, rp, kTuple);
    if (ec && lease.reused && attempt == 0 && IsRetriable(ec)) continue;
    char sink[kRelayChunk];
    while (!ec && !rp.is_done()) {  // read and discard the body, keeping the connection usable
      rp.get().body().data = sink;
      rp.get().body().size = sizeof sink;
      std::tie(ec, std::ignore) = co_await http::async_read(upstream, buffer, rp, kTuple);
      if (ec == http::error::need_buffer) ec = {};
    }
    if (ec) {
      failure = ec == beast::error::timeout ? "timeout" : "read: " + ec.message();
      break;
    }
    status = rp.get().result_int();
    if (rp.keep_alive() && !rp.need_eof() && buffer.size() == 0) {
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
    counters.testing_latency.Observe(latency);
    pair->pair.testing_status = static_cast<int>(status);
  }
  pair->pair.testing_latency = latency;
  pair->HalfDone();
}

// One request from the client. Returns whether to read another from the same connection.
asio::awaitable<bool> ServeOne(Worker& w, beast::tcp_stream& client, beast::flat_buffer& buffer,
                               const std::string& client_ip) {
  const auto& o = w.impl.options;
  auto& counters = w.impl.counters;
  http::request_parser<http::empty_body> head;
  head.header_limit(o.max_header_bytes);
  head.body_limit(o.max_body_bytes);
  client.expires_after(o.client_timeout);
  auto [ec, n] = co_await http::async_read_header(client, buffer, head, kTuple);
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
    co_await AnswerError(w, client, status, ec.message(), 11, false);
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
  if (o.mirror.enabled && targets->testing) {
    route = w.impl.folder.Fold(h.target());
    drop = CheckMirror(o.mirror, true, method, route, body_bytes);
    if (!drop && counters.mirror_in_flight.load(kRelaxed) >= o.mirror.max_in_flight) {
      drop = MirrorDrop::kInFlightLimit;
    }
  } else {
    drop = o.mirror.enabled ? MirrorDrop::kNoTesting : MirrorDrop::kDisabled;
  }
  if (drop) counters.CountDrop(*drop);

  InFlight in_flight(targets->running->in_flight);
  Outcome outcome;
  const bool buffer_body =
      body_bytes && *body_bytes <= std::max<uint64_t>(o.mirror.max_body_bytes, 64 * 1024);
  if (buffer_body) {
    http::request_parser<http::string_body> full{std::move(head)};
    client.expires_after(o.client_timeout);
    auto [read_ec, read_n] = co_await http::async_read(client, buffer, full, kTuple);
    if (read_ec) {
      if (read_ec == beast::error::timeout) counters.client_timeouts.fetch_add(1, kRelaxed);
      co_return false;
    }
    http::request<http::string_body> req = full.release();
    StripHopByHop(req);
    AddForwarded(req, client_ip, "http");
    req.version(11);
    if (!drop) {
      auto copy = std::make_shared<http::request<http::string_body>>(req);
      PrepareMirrorCopy(*copy, o.mirror);
      pair = std::make_shared<PairState>();
      pair->sink = w.impl.sink;
      pair->counters = &counters;
      pair->pair.method = method;
      pair->pair.route = route;
      counters.mirror_sent.fetch_add(1, kRelaxed);
      counters.mirror_in_flight.fetch_add(1, kRelaxed);
      asio::co_spawn(w.io, Mirror(w, targets->testing, std::move(copy), pair), LogFailure);
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

asio::awaitable<void> Session(Worker& w, tcp::socket socket) {
  auto& counters = w.impl.counters;
  counters.connections_open.fetch_add(1, kRelaxed);
  beast::tcp_stream client(std::move(socket));
  error_code ec;
  auto remote = client.socket().remote_endpoint(ec);
  std::string client_ip = ec ? "unknown" : remote.address().to_string();
  beast::flat_buffer buffer;
  while (co_await ServeOne(w, client, buffer, client_ip)) {
  }
  client.socket().shutdown(tcp::socket::shutdown_send, ec);
  counters.connections_open.fetch_sub(1, kRelaxed);
}

asio::awaitable<void> Accept(Worker& w) {
  auto& counters = w.impl.counters;
  while (w.acceptor.is_open()) {
    auto [ec, socket] = co_await w.acceptor.async_accept(kTuple);
    if (ec == asio::error::operation_aborted || !w.acceptor.is_open()) co_return;
    if (ec) {
      // Out of file descriptors and the like: back off a little instead of spinning.
      spdlog::warn("proxy: accept failed: {}", ec.message());
      asio::steady_timer pause(w.io, std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    counters.connections_accepted.fetch_add(1, kRelaxed);
    if (counters.connections_open.load(kRelaxed) >= w.impl.options.max_connections) {
      counters.connections_refused.fetch_add(1, kRelaxed);
      continue;  // the socket closes as it goes out of scope
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(w.io, Session(w, std::move(socket)), LogFailure);
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
    asio::co_spawn(w->io, Accept(*w), LogFailure);
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
    if (auto existing = impl_->registry[key].lock()) {
      existing->upstream.version = upstream->version;
      return existing;
    }
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
  impl_->targets = targets;
  for (auto it = impl_->registry.begin(); it != impl_->registry.end();) {
    it = it->second.expired() ? impl_->registry.erase(it) : std::next(it);
  }
  for (auto& worker : impl_->workers) {
    Worker* w = worker.get();
    asio::post(w->io, [w, targets] { w->pool.Prune(*targets); });
  }
}

uint64_t Proxy::InFlight(const Upstream& upstream) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->registry.find({upstream.host, upstream.port});
  if (it == impl_->registry.end()) return 0;
  auto target = it->second.lock();
  return target ? target->in_flight.load() : 0;
}

UpstreamSnapshot Proxy::Current() const {
  auto targets = impl_->Load();
  UpstreamSnapshot snapshot;
  if (targets->running) snapshot.running = targets->running->upstream;
  if (targets->testing) snapshot.testing = targets->testing->upstream;
  return snapshot;
}

ProxyStats Proxy::Stats() const { return impl_->counters.Snapshot(); }

}  // namespace yoke::proxy
