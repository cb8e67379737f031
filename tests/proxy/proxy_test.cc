// The proxy in-process, in front of real fixture services on 127.0.0.1: forwarding, framing,
// limits, mirroring, pairing and switching. Ports come from the system; every wait has a
// deadline; every fixture is stopped by its pid. Over 500 lines: one fixture serves every
// group of proxy behaviour, and splitting it would copy the fixture.
#include "proxy/proxy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/fakes/http_client.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/raw_recorder.h"
#include "tests/fakes/temp_dir.h"

namespace yoke::proxy {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::HttpClient;
using testing::ReadAll;
using testing::Subprocess;
using testing::WaitUntil;
namespace http = boost::beast::http;
using http::verb;

class RecordingSink : public EvidenceSink {
 public:
  void OnPair(Pair pair) override {
    std::lock_guard lock(mu_);
    pairs_.push_back(std::move(pair));
  }
  std::vector<Pair> pairs() {
    std::lock_guard lock(mu_);
    return pairs_;
  }

 private:
  std::mutex mu_;
  std::vector<Pair> pairs_;
};

// A fixture service on a free port, stopped (by pid) with the test.
struct Backend {
  Backend(const fs::path& dir, const std::string& name, std::vector<std::string> flags)
      : port(testing::FreePort()), record(dir / (name + ".rec")) {
    std::vector<std::string> argv = {testing::FixtureBinary().string(),
                                     "--port",
                                     std::to_string(port),
                                     "--version",
                                     name,
                                     "--record",
                                     record.string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process = std::make_unique<Subprocess>(argv, dir / (name + ".out"));
    EXPECT_TRUE(WaitUntil([&] { return testing::HttpGet(port, "/health").status == 200; }, 10s));
  }
  Upstream upstream() const { return Upstream{"127.0.0.1", port, "v"}; }
  std::string Recorded() const { return ReadAll(record); }
  uint16_t port;
  fs::path record;
  std::unique_ptr<Subprocess> process;
};

class ProxyTest : public ::testing::Test {
 protected:
  ProxyTest() {
    options_.client_timeout = 500ms;
    options_.upstream_timeout = 1000ms;
    options_.max_header_bytes = 4096;
    options_.max_body_bytes = 16 * 1024 * 1024;
    options_.mirror.timeout = 1500ms;
  }

  void StartProxy(std::optional<Upstream> running, std::optional<Upstream> testing) {
    proxy_ = std::make_unique<Proxy>(options_, &sink_);
    proxy_->Publish({running, testing});
    ASSERT_TRUE(proxy_->Start({"127.0.0.1", 0}));
  }

  Backend& Running(std::vector<std::string> flags = {}) {
    running_ = std::make_unique<Backend>(dir_.path(), "A", std::move(flags));
    return *running_;
  }
  Backend& Testing(std::vector<std::string> flags = {}) {
    testing_ = std::make_unique<Backend>(dir_.path(), "B", std::move(flags));
    return *testing_;
  }

  std::optional<testing::Response> Get(const std::string& target,
                                       const std::map<std::string, std::string>& headers = {}) {
    HttpClient client(proxy_->port());
    return client.Request(verb::get, target, "", headers);
  }

  // Sends raw bytes on a new connection and reads one response.
  std::optional<testing::Response> Raw(const std::string& bytes) {
    HttpClient client(proxy_->port());
    client.SendRaw(bytes);
    return client.Read(3s);
  }

  testing::TempDir dir_;
  ProxyOptions options_;
  RecordingSink sink_;
  std::unique_ptr<Backend> running_;
  std::unique_ptr<Backend> testing_;
  std::unique_ptr<Proxy> proxy_;
};

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

// From a peer in proxy.trusted_proxies (a TLS terminator on 127.0.0.1 here) running sees the
// terminator's X-Forwarded-For with the peer appended, its https and its public host.
TEST_F(ProxyTest, KeepsForwardedFieldsFromATrustedPeer) {
  options_.trusted_proxies = *TrustedPeers::Parse({"127.0.0.0/8"});
  StartProxy(Running().upstream(), std::nullopt);
  auto res = Get("/headers", {{"X-Forwarded-For", "203.0.113.7"},
                              {"X-Forwarded-Proto", "https"},
                              {"X-Forwarded-Host", "shop.example.com"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200);
  const std::string& seen = res->body();
  EXPECT_NE(seen.find("X-Forwarded-For: 203.0.113.7, 127.0.0.1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Forwarded-Proto: https"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Forwarded-Host: shop.example.com"), std::string::npos) << seen;
}

// Running sees X-Forwarded-For/-Proto and none of the hop-by-hop fields.
TEST_F(ProxyTest, ForwardsWithForwardedHeadersAndWithoutHopByHop) {
  StartProxy(Running().upstream(), std::nullopt);
  auto res = Get("/headers", {{"Connection", "keep-alive, X-Secret"},
                              {"X-Secret", "1"},
                              {"Keep-Alive", "timeout=5"},
                              {"TE", "trailers"},
                              {"X-Forwarded-For", "10.0.0.1"},
                              {"X-Kept", "yes"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200);
  const std::string& seen = res->body();
  // 127.0.0.1 is not in proxy.trusted_proxies: the client's list is not believed.
  EXPECT_NE(seen.find("X-Forwarded-For: 127.0.0.1"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("10.0.0.1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Forwarded-Proto: http"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Kept: yes"), std::string::npos) << seen;
  for (const char* gone : {"X-Secret", "Keep-Alive", "TE:", "Connection"}) {
    EXPECT_EQ(seen.find(gone), std::string::npos) << gone << " reached running:\n" << seen;
  }
}

// Twenty requests on one client connection use one upstream connection.
TEST_F(ProxyTest, KeepsClientAndUpstreamConnectionsAlive) {
  auto& running = Running();
  StartProxy(running.upstream(), std::nullopt);
  HttpClient client(proxy_->port());
  for (int i = 0; i < 20; ++i) {
    auto res = client.Request(verb::get, "/version");
    ASSERT_TRUE(res) << "request " << i;
    EXPECT_EQ(res->body(), "A");
  }
  std::set<std::string> connections;
  std::istringstream in(running.Recorded());
  for (std::string line; std::getline(in, line);) {
    if (line.find("GET /version") != std::string::npos)
      connections.insert(line.substr(0, line.find(' ')));
  }
  EXPECT_EQ(connections.size(), 1u);
  EXPECT_EQ(CountLines(running.Recorded(), "GET /version"), 20);
}

// Large and chunked bodies arrive intact in both directions.
TEST_F(ProxyTest, StreamsLargeAndChunkedBodiesBothWays) {
  StartProxy(Running().upstream(), std::nullopt);
  std::string big(5 * 1024 * 1024, '\0');
  std::mt19937 random(7);
  for (char& c : big) c = static_cast<char>(random());
  HttpClient client(proxy_->port());
  auto echoed = client.Request(verb::post, "/echo", big);
  ASSERT_TRUE(echoed);
  EXPECT_TRUE(echoed->body() == big) << "5 MiB body changed on the way";

  std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    std::string piece(3000 + i, static_cast<char>('a' + i % 26));
    std::ostringstream size;
    size << std::hex << piece.size();
    chunked += size.str() + "\r\n" + piece + "\r\n";
    expected += piece;
  }
  chunked += "0\r\n\r\n";
  client.SendRaw(chunked);
  auto res = client.Read();
  ASSERT_TRUE(res);
  EXPECT_TRUE(res->body() == expected);

  auto chunked_answer = client.Request(verb::get, "/chunked?size=200000");
  ASSERT_TRUE(chunked_answer);
  EXPECT_EQ(chunked_answer->body().size(), 200000u);
  EXPECT_EQ(chunked_answer->body().substr(999, 2), "ab");
}

// HEAD, 204 and 304 carry no body, and the connection stays in step after them.
TEST_F(ProxyTest, HandlesHeadAndBodylessStatuses) {
  StartProxy(Running({"--status", "/nocontent=204", "--status", "/cached=304"}).upstream(),
             std::nullopt);
  HttpClient client(proxy_->port());
  auto head = client.Request(verb::head, "/version");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->result_int(), 200);
  EXPECT_EQ((*head)[http::field::content_length], "1");
  EXPECT_TRUE(head->body().empty());
  auto none = client.Request(verb::get, "/nocontent");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->result_int(), 204);
  auto cached = client.Request(verb::get, "/cached");
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->result_int(), 304);
  auto after = client.Request(verb::get, "/version");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body(), "A");
}

// Connection: close from the client is answered with close, and the proxy hangs up.
TEST_F(ProxyTest, HonoursConnectionClose) {
  StartProxy(Running().upstream(), std::nullopt);
  HttpClient client(proxy_->port());
  auto res = client.Request(verb::get, "/version", "", {{"Connection", "close"}});
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(client.ClosedByPeer(2s));
}

// Running unreachable: 502; running too slow: 504; each with a short body.
TEST_F(ProxyTest, AnswersBadGatewayAndGatewayTimeout) {
  auto& running = Running();
  StartProxy(Upstream{"127.0.0.1", testing::FreePort(), "gone"}, std::nullopt);
  auto unreachable = Get("/version");
  ASSERT_TRUE(unreachable);
  EXPECT_EQ(unreachable->result_int(), 502);
  EXPECT_NE(unreachable->body().find("unreachable"), std::string::npos);
  proxy_->Publish({running.upstream(), std::nullopt});
  auto slow = Get("/slow?ms=3000");
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->result_int(), 504);
  EXPECT_FALSE(slow->body().empty());
  EXPECT_EQ(proxy_->Stats().upstream_timeouts, 1u);
  EXPECT_EQ(proxy_->Stats().upstream_unreachable, 1u);
}

// Each kind of bad request gets its status, and the proxy goes on serving.
TEST_F(ProxyTest, RejectsBadRequestsWithTheirStatus) {
  StartProxy(Running().upstream(), std::nullopt);
  struct Case {
    std::string name;
    std::string bytes;
    int status;
  } cases[] = {
      {"malformed", "GARBAGE\r\n\r\n", 400},
      {"bad version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400},
      {"huge header", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n",
       431},
      {"huge body", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413},
      {"CL and TE",
       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       400},
      {"TE then CL",
       "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: "
       "5\r\n\r\nhello",
       400},
      {"two lengths",
       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
       400},
      // A coding yoke does not decode: 501, as RFC 9112 §6.1 and nginx answer.
      {"TE not chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"bad length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    auto res = Raw(c.bytes);
    ASSERT_TRUE(res) << c.name;
    EXPECT_EQ(res->result_int(), c.status) << c.name << ": " << res->body();
    EXPECT_FALSE(res->keep_alive()) << c.name;
    auto ok = Get("/version");
    ASSERT_TRUE(ok) << "after " << c.name;
    EXPECT_EQ(ok->body(), "A");
  }
  EXPECT_EQ(CountLines(running_->Recorded(), "POST"), 0) << "a bad request reached running";
}

// A client that sends half a header is dropped after the read timeout.
TEST_F(ProxyTest, DropsSlowClients) {
  StartProxy(Running().upstream(), std::nullopt);
  HttpClient client(proxy_->port());
  client.SendRaw("GET /version HTTP/1.1\r\nHost: x\r\n");
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.ClosedByPeer(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 400ms);
  // Beast closes the socket when the timer fires, before the proxy counts the timeout.
  EXPECT_TRUE(WaitUntil([&] { return proxy_->Stats().client_timeouts == 1; }, 2s));
}

// GET is mirrored with Yoke-Mirror: 1 and without Cookie/Authorization; POST is not, unless a
// route allows it.
TEST_F(ProxyTest, MirrorsSafeMethodsMarkedAndStripped) {
  options_.mirror.allow.push_back({"/echo", {"POST"}});
  auto& running = Running();
  auto& testing = Testing();
  StartProxy(running.upstream(), testing.upstream());
  auto res = Get("/version", {{"Cookie", "session=1"}, {"Authorization", "Bearer x"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "A");  // the user's answer comes from running
  ASSERT_TRUE(WaitUntil([&] { return CountLines(testing.Recorded(), "GET /version") == 1; }, 5s));
  std::string copy = testing.Recorded();
  EXPECT_NE(copy.find("Yoke-Mirror=1"), std::string::npos) << copy;
  EXPECT_EQ(copy.find("Cookie"), std::string::npos) << copy;
  EXPECT_EQ(copy.find("Authorization"), std::string::npos) << copy;
  EXPECT_NE(running.Recorded().find("Cookie=session=1"), std::string::npos);
  EXPECT_EQ(running.Recorded().find("Yoke-Mirror"), std::string::npos);

  HttpClient client(proxy_->port());
  ASSERT_TRUE(client.Request(verb::post, "/other", "x"));
  ASSERT_TRUE(client.Request(verb::post, "/echo", "y"));
  ASSERT_TRUE(WaitUntil([&] { return CountLines(testing.Recorded(), "POST /echo") == 1; }, 5s));
  EXPECT_EQ(CountLines(testing.Recorded(), "POST /other"), 0);
  EXPECT_EQ(proxy_->Stats().mirror_dropped[static_cast<size_t>(MirrorDrop::kMethod)], 1u);
}

// A snapshot may carry its own mirror policy (meta's override): it applies from the next
// request, and a snapshot without one goes back to the configured policy.
TEST_F(ProxyTest, MirrorPolicyFollowsThePublishedSnapshot) {
  auto& running = Running();
  auto& testing = Testing();
  StartProxy(running.upstream(), testing.upstream());
  MirrorPolicy off;
  off.enabled = false;
  proxy_->Publish({running.upstream(), testing.upstream(), std::make_shared<MirrorPolicy>(off)});
  ASSERT_TRUE(Get("/version"));
  EXPECT_EQ(proxy_->Stats().mirror_dropped[static_cast<size_t>(MirrorDrop::kDisabled)], 1u);
  EXPECT_EQ(proxy_->Stats().mirror_sent, 0u);
  proxy_->Publish({running.upstream(), testing.upstream()});
  ASSERT_TRUE(Get("/version"));
  ASSERT_TRUE(WaitUntil([&] { return CountLines(testing.Recorded(), "GET /version") == 1; }, 5s));
  EXPECT_EQ(proxy_->Stats().mirror_sent, 1u);
}

// Over the mirror body limit, a request is served but not mirrored, and counted.
TEST_F(ProxyTest, DoesNotMirrorLargeBodies) {
  options_.mirror.methods.insert("POST");
  options_.mirror.max_body_bytes = 1000;
  auto& testing = Testing();
  StartProxy(Running().upstream(), testing.upstream());
  HttpClient client(proxy_->port());
  auto res = client.Request(verb::post, "/echo", std::string(5000, 'x'));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body().size(), 5000u);
  EXPECT_EQ(proxy_->Stats().mirror_dropped[static_cast<size_t>(MirrorDrop::kBodyTooLarge)], 1u);
  EXPECT_EQ(proxy_->Stats().mirror_sent, 0u);
}

// A testing instance that never answers does not slow users, and mirroring stays bounded.
TEST_F(ProxyTest, HungTestingNeitherSlowsUsersNorGrowsWithoutBound) {
  // Accepts connections (the kernel completes them) but never reads or answers.
  int hung = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(hung, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::listen(hung, 64);
  socklen_t len = sizeof addr;
  ::getsockname(hung, reinterpret_cast<sockaddr*>(&addr), &len);
  options_.mirror.max_in_flight = 2;
  options_.mirror.timeout = 3000ms;
  StartProxy(Running().upstream(), Upstream{"127.0.0.1", ntohs(addr.sin_port), "hung"});
  HttpClient client(proxy_->port());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    auto res = client.Request(verb::get, "/version");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body(), "A");
  }
  // Waiting on the mirror even once would take 3 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
  auto stats = proxy_->Stats();
  EXPECT_EQ(stats.mirror_sent, 2u);
  EXPECT_EQ(stats.mirror_dropped[static_cast<size_t>(MirrorDrop::kInFlightLimit)], 8u);
  ASSERT_TRUE(WaitUntil([&] { return proxy_->Stats().mirror_failed == 2; }, 10s));
  EXPECT_EQ(proxy_->Stats().mirror_in_flight, 0u);
  auto pairs = sink_.pairs();
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_TRUE(pairs[0].testing_failed);
  EXPECT_EQ(pairs[0].testing_error, "timeout");
  ::close(hung);
}

// Each mirrored request becomes a pair: route folded, both statuses, both latencies.
TEST_F(ProxyTest, PairsRunningAndTestingAnswersByRoute) {
  StartProxy(Running().upstream(), Testing({"--status", "/orders/7=404"}).upstream());
  ASSERT_TRUE(Get("/orders/7"));
  ASSERT_TRUE(Get("/version?x=1"));
  ASSERT_TRUE(WaitUntil([&] { return sink_.pairs().size() == 2; }, 5s));
  std::map<std::string, Pair> by_route;
  for (const Pair& p : sink_.pairs()) by_route[p.route] = p;
  ASSERT_TRUE(by_route.contains("/orders/:id"));
  EXPECT_EQ(by_route["/orders/:id"].running_status, 200);
  EXPECT_EQ(by_route["/orders/:id"].testing_status, 404);
  EXPECT_EQ(by_route["/orders/:id"].method, "GET");
  EXPECT_EQ(by_route["/version"].testing_status, 200);
  EXPECT_GT(by_route["/version"].running_latency.count(), 0);
  EXPECT_GT(by_route["/version"].testing_latency.count(), 0);
}

// A testing instance that is down leaves users untouched and makes failed pairs.
TEST_F(ProxyTest, TestingDownGivesFailedPairs) {
  StartProxy(Running().upstream(), Upstream{"127.0.0.1", testing::FreePort(), "down"});
  auto res = Get("/version");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "A");
  ASSERT_TRUE(WaitUntil([&] { return sink_.pairs().size() == 1; }, 5s));
  EXPECT_TRUE(sink_.pairs()[0].testing_failed);
  EXPECT_EQ(sink_.pairs()[0].testing_error, "connect");
}

// In-flight requests are counted per upstream, so a switch can wait for the old one to drain.
TEST_F(ProxyTest, CountsRequestsInFlightPerUpstream) {
  auto& running = Running();
  StartProxy(running.upstream(), std::nullopt);
  std::thread slow([&] { Get("/slow?ms=600"); });
  EXPECT_TRUE(WaitUntil([&] { return proxy_->InFlight(running.upstream()) == 1; }, 5s));
  slow.join();
  // The answer can reach the client before the proxy's coroutine resumes and counts it done.
  EXPECT_TRUE(WaitUntil([&] { return proxy_->InFlight(running.upstream()) == 0; }, 5s));
}

// Four clients asking GET /version through the proxy in a loop, each on a keep-alive connection
// (a new one after a failure or a close), until stopped or destroyed.
class Load {
 public:
  explicit Load(uint16_t port) {
    for (int t = 0; t < 4; ++t) {
      clients_.emplace_back([this, port] {
        auto client = std::make_unique<HttpClient>(port);
        for (int i = 0; i < 50000 && !stop_; ++i) {
          auto res = client->Request(verb::get, "/version");
          if (!res || res->result_int() != 200) {
            ++failed;
            client = std::make_unique<HttpClient>(port);
            continue;
          }
          ++ok;
          if (res->body() == "A") ++from_a;
          if (!res->keep_alive()) client = std::make_unique<HttpClient>(port);
        }
      });
    }
  }
  ~Load() { Stop(); }
  // Waits (at most 5 s) until `n` more requests have been answered.
  void WaitForMore(int n) {
    WaitUntil([&, target = ok.load() + n] { return ok.load() >= target; }, 5s);
  }
  void Stop() {
    stop_ = true;
    for (auto& c : clients_) {
      if (c.joinable()) c.join();
    }
  }
  std::atomic<int> ok{0}, failed{0}, from_a{0};

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> clients_;
};

// Twenty switches between two running instances under concurrent load: every request is
// answered 200, by one version or the other.
TEST_F(ProxyTest, SwitchesUnderLoadWithoutFailingARequest) {
  Backend a(dir_.path(), "A", {});
  Backend b(dir_.path(), "B", {});
  StartProxy(a.upstream(), std::nullopt);
  Load load(proxy_->port());
  for (int i = 0; i < 20; ++i) {
    // Pace the switches so that each one lands among requests under way.
    load.WaitForMore(50);
    proxy_->Publish({(i % 2 == 0 ? b : a).upstream(), std::nullopt});
  }
  load.WaitForMore(50);
  load.Stop();
  EXPECT_EQ(load.failed.load(), 0);
  EXPECT_GT(load.ok.load(), 1000);
  EXPECT_GT(load.from_a.load(), 0);
  EXPECT_LT(load.from_a.load(), load.ok.load());  // and some from B
  EXPECT_EQ(proxy_->Stats().responses_by_class[5], 0u);
}

// What a promotion does, thirty times under load: publish a new running instance, wait until
// the proxy counts nothing in flight on the old one, and stop the old one. A request that picked
// the old instance just before a switch is counted from that moment on, so none reaches a
// stopped instance (a 502, "connection refused").
TEST_F(ProxyTest, AnOldRunningStoppedOnceDrainedFailsNoRequest) {
  auto old = std::make_unique<Backend>(dir_.path(), "v0", std::vector<std::string>{});
  StartProxy(old->upstream(), std::nullopt);
  Load load(proxy_->port());
  for (int i = 1; i <= 30; ++i) {
    auto next =
        std::make_unique<Backend>(dir_.path(), "v" + std::to_string(i), std::vector<std::string>{});
    load.WaitForMore(20);
    proxy_->Publish({next->upstream(), std::nullopt});
    ASSERT_TRUE(WaitUntil([&] { return proxy_->InFlight(old->upstream()) == 0; }, 5s));
    old = std::move(next);  // the old instance is stopped (by pid) here
  }
  load.WaitForMore(20);
  load.Stop();
  EXPECT_EQ(load.failed.load(), 0);
  EXPECT_GT(load.ok.load(), 600);
  EXPECT_EQ(proxy_->Stats().responses_by_class[5], 0u);
}

// A client that stalls in the middle of a streamed body (chunked, or a length too large to
// buffer) is dropped after the read timeout; running never sees a whole request, its
// half-written connection is not reused, and the next user is served.
TEST_F(ProxyTest, DropsClientsThatStallInsideABody) {
  testing::RawRecorder running("running");
  StartProxy(Upstream{"127.0.0.1", running.port(), "r"}, std::nullopt);
  const std::string stalls[] = {
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhalf",
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r",
      "POST /l HTTP/1.1\r\nHost: h\r\nContent-Length: 200000\r\n\r\n" + std::string(70000, 'x'),
  };
  uint64_t timeouts = 0;
  for (const std::string& bytes : stalls) {
    HttpClient client(proxy_->port());
    client.SendRaw(bytes);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(client.ClosedByPeer(5s)) << bytes.substr(0, 40);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 400ms);
    ++timeouts;
    EXPECT_TRUE(WaitUntil([&] { return proxy_->Stats().client_timeouts == timeouts; }, 2s));
  }
  EXPECT_TRUE(running.Requests().empty());
  EXPECT_EQ(running.ambiguous(), 0) << running.garbage();
  HttpClient next(proxy_->port());
  next.SendRaw("GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
  auto res = next.Read(3s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_TRUE(res->body().ends_with(" /after")) << res->body();
  EXPECT_EQ(running.Requests().size(), 1u);
}

// Defect 4 of the hardening issue: the port is one socket without SO_REUSEPORT, so neither a
// second proxy nor any program setting SO_REUSEPORT can bind it and take a share of the users.
TEST_F(ProxyTest, NoOtherProgramCanTakeThePort) {
  options_.threads = 2;
  StartProxy(Running().upstream(), std::nullopt);
  Proxy second(options_, nullptr);
  auto taken = second.Start({"127.0.0.1", proxy_->port()});
  ASSERT_FALSE(taken);
  EXPECT_NE(taken.error().message().find("in use"), std::string::npos) << taken.error().message();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(proxy_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(errno, EADDRINUSE);
  ::close(fd);
  // Both worker threads still serve the one socket.
  for (int i = 0; i < 20; ++i) {
    auto res = Get("/version");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body(), "A");
  }
}

// Defect 8: mirror.max_body_bytes bounds only what is copied; a body that will not be copied
// (a POST, with the default methods) streams to running before the client has sent all of it.
TEST_F(ProxyTest, StreamsBodiesThatAreNotMirrored) {
  options_.mirror.max_body_bytes = 16 * 1024 * 1024;
  testing::RawRecorder running("running");
  StartProxy(Upstream{"127.0.0.1", running.port(), "r"}, Testing().upstream());
  const size_t total = 1024 * 1024;
  HttpClient client(proxy_->port());
  client.SendRaw("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(total) +
                 "\r\n\r\n" + std::string(total / 4, 'u'));
  EXPECT_TRUE(WaitUntil([&] { return running.bytes_received() >= total / 8; }, 5s))
      << "the body was held back: " << running.bytes_received() << " bytes reached running";
  client.SendRaw(std::string(total - total / 4, 'u'));
  auto res = client.Read(5s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200);
  ASSERT_EQ(running.Requests().size(), 1u);
  EXPECT_TRUE(running.Requests()[0].ends_with(std::string(1000, 'u')));
  EXPECT_EQ(proxy_->Stats().mirror_sent, 0u);
}

}  // namespace
}  // namespace yoke::proxy
