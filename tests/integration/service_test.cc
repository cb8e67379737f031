// yoke as a system service: the systemd notify protocol (READY=1 once the proxy serves a healthy
// running, STATUS= lines, WATCHDOG=1 while WATCHDOG_USEC is set, RELOADING=1 on SIGHUP,
// STOPPING=1), /healthz and /readyz, and the webhook on its own listener. The test binds the
// notify socket itself (a unix datagram socket in its temp folder) and passes it to the real
// `yoke run` in NOTIFY_SOCKET, as systemd would.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "meta/digest.h"
#include "tests/fakes/http_client.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// systemd's end of NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    bound_ = fd_ >= 0 && path.string().size() < sizeof address.sun_path &&
             ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }
  // The next datagram, or nothing within `timeout`.
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }
  // Receives until a datagram holding `text` arrives (returned), keeping every one in `seen`;
  // nothing when `timeout` passes first.
  std::optional<std::string> WaitFor(const std::string& text, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      auto message = Receive(std::max(left, 1ms));
      if (!message) continue;
      seen.push_back(*message);
      if (message->find(text) != std::string::npos) return message;
    }
    return std::nullopt;
  }
  std::vector<std::string> seen;

 private:
  fs::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

std::vector<std::string> NotifyEnv(const fs::path& socket, bool watchdog) {
  std::vector<std::string> prefix = {"/usr/bin/env", "NOTIFY_SOCKET=" + socket.string()};
  if (watchdog) prefix.push_back("WATCHDOG_USEC=300000");
  return prefix;
}

// READY=1 comes once the proxy serves the running version: at that moment a user request is
// answered by 1.0.0 and /readyz says ready. WATCHDOG=1 keeps coming at half WATCHDOG_USEC;
// STATUS= names the running version; SIGHUP is RELOADING=1 then READY=1; SIGTERM STOPPING=1.
TEST(ServiceTest, NotifiesReadyWatchdogReloadAndStop) {
  YokeHarness yoke;
  NotifySocket notify(yoke.dir() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  yoke.DropScript("1.0.0", "");
  yoke.StartYoke({}, NotifyEnv(yoke.dir() / "notify.sock", true));
  auto ready = notify.WaitFor("READY=1", 30s);
  ASSERT_TRUE(ready) << yoke.Log();
  // Checked at once, before anything else can change: READY=1 meant "serving".
  EXPECT_EQ(HttpGet(yoke.proxy_port(), "/version").body, "1.0.0");
  EXPECT_EQ(HttpGet(yoke.admin_port(), "/readyz").status, 200);
  EXPECT_EQ(HttpGet(yoke.admin_port(), "/healthz").status, 200);
  EXPECT_NE(ready->find("STATUS=running 1.0.0 up"), std::string::npos) << *ready;
  for (const std::string& before : notify.seen) {
    if (&before == &notify.seen.back()) break;
    EXPECT_EQ(before.find("READY=1"), std::string::npos) << before;
  }
  // Watchdog keep-alives: three more within 3 s (one every 150 ms is due).
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(notify.WaitFor("WATCHDOG=1", 3s)) << "watchdog " << i << "\n" << yoke.Log();
  }
  yoke.yoke().Signal(SIGHUP);
  ASSERT_TRUE(notify.WaitFor("RELOADING=1", 10s)) << yoke.Log();
  ASSERT_TRUE(notify.WaitFor("READY=1", 10s)) << yoke.Log();
  auto stopped = yoke.StopYoke();
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(notify.WaitFor("STOPPING=1", 5s));
}

// Without a running version /readyz is 503 with the reason, while /healthz is 200: the loop
// turns. Without WATCHDOG_USEC no WATCHDOG=1 is sent; READY=1 still comes at the health
// deadline, so a first start with nothing to run does not fail the unit.
TEST(ServiceTest, NotReadyWithoutRunningButAlive) {
  YokeHarness yoke;
  NotifySocket notify(yoke.dir() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  yoke.StartYoke({}, NotifyEnv(yoke.dir() / "notify.sock", false));
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(yoke.admin_port(), "/healthz").status == 200; }, 15s))
      << yoke.Log();
  HttpResult readyz = HttpGet(yoke.admin_port(), "/readyz");
  EXPECT_EQ(readyz.status, 503);
  EXPECT_EQ(readyz.body, "no healthy running instance\n");
  auto ready = notify.WaitFor("READY=1", 20s);  // health.timeout_ms is 5 s in the harness
  ASSERT_TRUE(ready) << yoke.Log();
  EXPECT_NE(ready->find("STATUS=no running version"), std::string::npos) << *ready;
  for (const std::string& message : notify.seen) {
    EXPECT_EQ(message.find("WATCHDOG=1"), std::string::npos) << message;
  }
  yoke.StopYoke();
}

// With webhook_listen the webhook is there and only there: its listener shows nothing else,
// for any Host, and the admin listener no longer offers it.
TEST(ServiceTest, WebhookOnItsOwnListener) {
  const uint16_t hook_port = FreePort();
  TempDir secrets;
  const fs::path secret = secrets.path() / "webhook.secret";
  WriteAll(secret, "shh\n");
  YokeHarness yoke("webhook_listen: \"127.0.0.1:" + std::to_string(hook_port) +
                   "\"\nmeta { webhook_secret_file: \"" + secret.string() + "\" }\n");
  yoke.StartYoke();
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(hook_port, "/healthz").status == 200; }, 15s))
      << yoke.Log();
  namespace http = boost::beast::http;
  const std::map<std::string, std::string> github = {{"Host", "hooks.example.com"}};
  for (const char* target : {"/", "/status", "/metrics"}) {
    HttpClient client(hook_port);
    auto res = client.Request(http::verb::get, target, "", github);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->result_int(), 404) << target;
  }
  const std::string body = R"({"ref":"refs/heads/main"})";
  const std::string signature = "sha256=" + meta::HmacSha256Hex("shh", body);
  {
    HttpClient client(hook_port);
    auto res = client.Request(http::verb::post, "/webhook", body,
                              {{"Host", "hooks.example.com"}, {"X-Hub-Signature-256", signature}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 202) << res->body();
    EXPECT_EQ(res->body(), "fetching meta\n");
  }
  {
    const std::string other = R"({"ref":"refs/heads/feature"})";
    HttpClient client(hook_port);
    auto res =
        client.Request(http::verb::post, "/webhook", other,
                       {{"Host", "hooks.example.com"},
                        {"X-Hub-Signature-256", "sha256=" + meta::HmacSha256Hex("shh", other)}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 202);
    EXPECT_NE(res->body().find("ignored"), std::string::npos) << res->body();
  }
  HttpClient admin(yoke.admin_port());
  auto on_admin = admin.Request(http::verb::post, "/webhook", body,
                                {{"Host", "127.0.0.1"}, {"X-Hub-Signature-256", signature}});
  ASSERT_TRUE(on_admin);
  EXPECT_EQ(on_admin->result_int(), 404);
  yoke.StopYoke();
}

}  // namespace
}  // namespace yoke::testing
