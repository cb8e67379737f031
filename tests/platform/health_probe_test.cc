// The real health probe against a scripted server on 127.0.0.1 (port 0): 2xx is healthy and any
// other status is not, only the status line and headers are read, a server that never answers
// ends the probe at its timeout, and a TCP check needs only the connection.
#include "platform/health_probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/scripted_server.h"

namespace yoke {
namespace {

using namespace std::chrono_literals;
using testing::ScriptedServer;

class HealthProbeTest : public ::testing::Test {
 protected:
  std::unique_ptr<HealthProbe> probe_ = MakeHealthProbe();
};

// A 2xx is healthy, a 503 is not; the GET goes to the configured path.
TEST_F(HealthProbeTest, HealthyOnlyOn2xx) {
  {
    ScriptedServer server("HTTP/1.1 204 No Content\r\n\r\n");
    ProbeResult result = probe_->Check(server.port(), "/health", 2s);
    EXPECT_TRUE(result.healthy) << result.detail;
    EXPECT_EQ(result.detail, "HTTP 204");
    EXPECT_EQ(server.request().rfind("GET /health HTTP/1.1\r\n", 0), 0u) << server.request();
  }
  ScriptedServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  ProbeResult result = probe_->Check(server.port(), "/health", 2s);
  EXPECT_FALSE(result.healthy);
  EXPECT_EQ(result.detail, "HTTP 503");
}

// The body is not waited for: a health answer that announces more than it sends still counts.
TEST_F(HealthProbeTest, ReadsOnlyTheStatusAndHeaders) {
  ScriptedServer server("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nok");
  ProbeResult result = probe_->Check(server.port(), "/health", 2s);
  EXPECT_TRUE(result.healthy) << result.detail;
}

// A server that takes the connection and says nothing fails the probe at its timeout.
TEST_F(HealthProbeTest, ASilentInstanceFailsAtTheTimeout) {
  ScriptedServer server("", ScriptedServer::Play::kSilent);
  const auto start = std::chrono::steady_clock::now();
  ProbeResult result = probe_->Check(server.port(), "/health", 200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(result.healthy);
  EXPECT_EQ(result.detail,
            "no answer from 127.0.0.1:" + std::to_string(server.port()) + " within 200 ms");
}

// Without an http_path a connection is enough; a closed port is not healthy either way.
TEST_F(HealthProbeTest, TcpCheckAndClosedPort) {
  ScriptedServer server("", ScriptedServer::Play::kCloseAtOnce);
  ProbeResult tcp = probe_->Check(server.port(), "", 2s);
  EXPECT_TRUE(tcp.healthy) << tcp.detail;
  EXPECT_EQ(tcp.detail, "tcp connect");
  const uint16_t closed = testing::FreePort();
  for (const std::string path : {"", "/health"}) {
    ProbeResult result = probe_->Check(closed, path, 2s);
    EXPECT_FALSE(result.healthy) << path;
    EXPECT_NE(result.detail.find("Connection refused"), std::string::npos) << result.detail;
  }
}

// A port something listens on is not free; once the listener is gone it is, even while a
// connection it served sits in TIME_WAIT (the server closed first, as an old instance does).
TEST(PortCheckTest, ListenerTakesAPortTimeWaitDoesNot) {
  auto fd = [](int domain_type) { return ::socket(AF_INET, domain_type | SOCK_CLOEXEC, 0); };
  int listener = fd(SOCK_STREAM);
  int on = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);
  EXPECT_FALSE(IsPortFree(port));

  int client = fd(SOCK_STREAM);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  int served = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(served, 0);
  ::close(served);  // the server side closes first: its end goes to TIME_WAIT
  char byte;
  EXPECT_EQ(::read(client, &byte, 1), 0);  // the client sees the close
  ::close(client);
  ::close(listener);
  EXPECT_TRUE(IsPortFree(port));
}

}  // namespace
}  // namespace yoke
