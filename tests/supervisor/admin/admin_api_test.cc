#include "supervisor/admin/admin_api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "meta/digest.h"
#include "tests/fakes/http_client.h"
#include "tests/fakes/process_harness.h"

namespace yoke {
namespace {

class AdminApiTest : public ::testing::Test {
 protected:
  AdminApiTest() {
    handlers_.status_json = [] { return std::string("{\"ok\":true}\n"); };
    handlers_.metrics_text = [] { return std::string("yoke_up 1\n"); };
    handlers_.token = "s3cret";
    handlers_.verdict = [this](ManualAction action, const std::string& reason,
                               const std::string& author, const std::string& version) {
      calls_.push_back(std::string(ManualActionName(action)) + "|" + reason + "|" + author + "|" +
                       version);
      return AdminResponse{200, "text/plain", "done\n"};
    };
  }
  AdminHandlers handlers_;
  std::vector<std::string> calls_;
};

// Status and metrics are open reads, with their content types.
TEST_F(AdminApiTest, ServesStatusAndMetrics) {
  auto status = HandleAdminRequest(handlers_, "GET", "/status");
  EXPECT_EQ(status.status, 200u);
  EXPECT_EQ(status.content_type, "application/json");
  EXPECT_EQ(status.body, "{\"ok\":true}\n");
  auto metrics = HandleAdminRequest(handlers_, "GET", "/metrics?x=1");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.content_type.find("version=0.0.4"), std::string::npos);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/status").status, 405u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/nope").status, 404u);
}

// A verdict needs the token, a POST and a reason; nothing reaches the supervisor otherwise.
TEST_F(AdminApiTest, ChecksVerdictsBeforePassingThemOn) {
  const std::string body = R"({"reason":"looks bad","author":"ada"})";
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/reject", "", body).status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/reject", "Bearer wrong!", body).status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/reject", "Bearer s3cre", body).status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/reject", "Bearer s3cret", body).status, 405u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/reject", "Bearer s3cret", "{}").status, 400u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/reject", "Bearer s3cret", "not json").status,
            400u);
  EXPECT_TRUE(calls_.empty());
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/reject", "Bearer s3cret", body).status, 200u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/pin", "Bearer s3cret",
                               R"({"reason":"hold","version":"1.2.3"})")
                .status,
            200u);
  EXPECT_EQ(calls_, (std::vector<std::string>{"reject|looks bad|ada|", "pin|hold|operator|1.2.3"}));
}

// A rollback reaches the supervisor as the typed action: at once when the body says "now".
TEST_F(AdminApiTest, PassesRollbackAsTypedAction) {
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/rollback", "Bearer s3cret",
                               R"({"reason":"bad","version":"1.0.0"})")
                .status,
            200u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/rollback", "Bearer s3cret",
                               R"({"reason":"worse","version":"1.0.0","now":true})")
                .status,
            200u);
  EXPECT_EQ(calls_, (std::vector<std::string>{"rollback|bad|operator|1.0.0",
                                              "rollback-now|worse|operator|1.0.0"}));
}

// Without a verdict handler (yoke proxy), state-changing calls are not offered at all.
TEST_F(AdminApiTest, OffersNoVerdictsWithoutAHandler) {
  handlers_.verdict = nullptr;
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/promote", "Bearer s3cret", R"({"reason":"x"})")
                .status,
            404u);
}

// The status page is HTML that loads nothing from elsewhere and reads /status on the same origin.
TEST_F(AdminApiTest, ServesASelfContainedStatusPage) {
  auto page = HandleAdminRequest(handlers_, "GET", "/");
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(page.body.starts_with("<!doctype html>"));
  EXPECT_NE(page.body.find("</html>"), std::string::npos);
  for (const char* outside : {"http://", "https://", "src=", "@import", "url(", "\"//"}) {
    EXPECT_EQ(page.body.find(outside), std::string::npos) << outside;
  }
  EXPECT_NE(page.body.find("fetch(\"status\""), std::string::npos);
  EXPECT_EQ(HandleAdminRequest(handlers_, "HEAD", "/?refresh=1").status, 200u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/").status, 405u);
}

// A decision is served by its id, percent-decoded; an unknown id is a 404.
TEST_F(AdminApiTest, ServesADecisionById) {
  std::vector<std::string> asked;
  handlers_.decision_text = [&](const std::string& id) -> std::optional<std::string> {
    asked.push_back(id);
    if (id == "20260101T000000Z-1.0.0-to-2.0.0+b1") return "verdict: PROMOTE\n";
    return std::nullopt;
  };
  auto found =
      HandleAdminRequest(handlers_, "GET", "/decisions/20260101T000000Z-1.0.0-to-2.0.0%2Bb1");
  EXPECT_EQ(found.status, 200u);
  EXPECT_EQ(found.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(found.body, "verdict: PROMOTE\n");
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/decisions/20260101T000000Z-0-to-9").status,
            404u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/decisions/x").status, 405u);
  EXPECT_EQ(asked, (std::vector<std::string>{"20260101T000000Z-1.0.0-to-2.0.0+b1",
                                             "20260101T000000Z-0-to-9"}));
}

// Ids that could reach outside decisions/, plainly or escaped, are refused before any lookup.
TEST_F(AdminApiTest, RefusesDecisionIdsThatLeaveTheFolder) {
  bool asked = false;
  handlers_.decision_text = [&](const std::string&) -> std::optional<std::string> {
    asked = true;
    return "secret";
  };
  for (const char* target :
       {"/decisions/../state/admin.token", "/decisions/..%2Fstate%2Fadmin.token",
        "/decisions/%2e%2e%2fstate%2fadmin.token", "/decisions/a/b", "/decisions/a%5Cb",
        "/decisions/..", "/decisions/", "/decisions/.hidden", "/decisions/a%00b", "/decisions/%zz",
        "/decisions/%2"}) {
    EXPECT_EQ(HandleAdminRequest(handlers_, "GET", target).status, 400u) << target;
  }
  EXPECT_FALSE(asked);
  handlers_.decision_text = nullptr;
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/decisions/x").status, 404u);
}

}  // namespace
}  // namespace yoke

namespace yoke {
namespace {

// The webhook fetches only with GitHub's HMAC-SHA256 signature of the exact body made with the
// shared secret; anything else is 401 and fetches nothing. Without a secret it is not offered.
// The page's history and timeline are open reads; the timeline's limit is checked and capped;
// without handlers (yoke proxy) they are not offered.
TEST_F(AdminApiTest, ServesHistoryAndTimeline) {
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/status/history").status, 404u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/decisions").status, 404u);
  handlers_.history_json = [] { return std::string("{\"points\":[]}\n"); };
  size_t asked = 0;
  handlers_.decisions_json = [&asked](size_t limit) {
    asked = limit;
    return std::string("{\"decisions\":[]}\n");
  };
  auto history = HandleAdminRequest(handlers_, "GET", "/status/history");
  EXPECT_EQ(history.status, 200u);
  EXPECT_EQ(history.content_type, "application/json");
  EXPECT_EQ(history.body, "{\"points\":[]}\n");
  EXPECT_EQ(HandleAdminRequest(handlers_, "POST", "/status/history").status, 405u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/decisions").status, 200u);
  EXPECT_EQ(asked, 100u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/decisions?limit=250").status, 200u);
  EXPECT_EQ(asked, 250u);
  EXPECT_EQ(HandleAdminRequest(handlers_, "GET", "/decisions?limit=99999").status, 200u);
  EXPECT_EQ(asked, 1000u);
  for (const char* bad :
       {"/decisions?limit=", "/decisions?limit=0", "/decisions?limit=-1", "/decisions?limit=5x"}) {
    EXPECT_EQ(HandleAdminRequest(handlers_, "GET", bad).status, 400u) << bad;
  }
}

// The page draws its charts itself and keeps the token in memory: the CSP allows no script,
// style or connection from elsewhere, and the page has no cookie or storage use.
TEST_F(AdminApiTest, PageKeepsItsStrictPolicyAndNoStoredToken) {
  auto page = HandleAdminRequest(handlers_, "GET", "/");
  EXPECT_NE(page.body.find("default-src 'none'; script-src 'unsafe-inline'; style-src "
                           "'unsafe-inline'; connect-src 'self'; img-src data:"),
            std::string::npos);
  EXPECT_EQ(page.body.find("<script src"), std::string::npos);
  EXPECT_EQ(page.body.find("document.cookie"), std::string::npos);
  EXPECT_EQ(page.body.find("localStorage"), std::string::npos);
  EXPECT_EQ(page.body.find("sessionStorage"), std::string::npos);
  EXPECT_NE(page.body.find("\"Authorization\": \"Bearer \" + adminToken"), std::string::npos);
  EXPECT_NE(page.body.find("status/history"), std::string::npos);
}

TEST(AdminWebhookTest, ChecksTheSignatureBeforeFetching) {
  AdminHandlers handlers;
  int fetches = 0;
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", "{}").status, 404u);
  handlers.webhook = [&] { ++fetches; };
  handlers.webhook_secret = "shh";
  const std::string body = R"({"ref":"refs/heads/main"})";
  const std::string good = "sha256=" + meta::HmacSha256Hex("shh", body);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body, "").status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body, "sha256=00").status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body + " ", good).status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers, "GET", "/webhook", "", body, good).status, 405u);
  EXPECT_EQ(fetches, 0);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body, good).status, 202u);
  EXPECT_EQ(fetches, 1);
}

// Defect 7 of the hardening issue: only the API's own names are answered (no DNS rebinding).
TEST(AdminHostTest, AnswersOnlyItsOwnNames) {
  const std::vector<std::string> allowed = {"yoke.internal"};
  for (const char* ok : {"127.0.0.1:8081", "localhost", "LOCALHOST:1", "[::1]:8081", "127.1.2.3",
                         "10.1.1.1:8081", "Yoke.Internal:443"}) {
    EXPECT_TRUE(AdminHostAllowed(ok, "10.1.1.1", allowed)) << ok;
  }
  for (const char* bad : {"", ":8081", "evil.example", "evil.example:8081",
                          "127.0.0.1.evil.example", "localhost.evil", "[::2]:8081", "10.1.1.2"}) {
    EXPECT_FALSE(AdminHostAllowed(bad, "10.1.1.1", allowed)) << bad;
  }
}

class AdminServerTest : public AdminApiTest {
 protected:
  void Start() {
    server_ = std::make_unique<AdminServer>(handlers_);
    ASSERT_TRUE(server_->Start({"127.0.0.1", 0}));
  }
  std::unique_ptr<AdminServer> server_;
};

// A page on another name that resolves to 127.0.0.1 gets 421, and so does a request with no
// Host or two; the API's own names are answered.
TEST_F(AdminServerTest, RefusesForeignHostsWith421) {
  Start();
  auto get = [&](const std::string& host) {
    testing::HttpClient client(server_->port());
    return client.Request(boost::beast::http::verb::get, "/status", "", {{"Host", host}});
  };
  auto foreign = get("attacker.example:" + std::to_string(server_->port()));
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->result_int(), 421);
  EXPECT_EQ(foreign->body().find("ok"), std::string::npos);
  auto own = get("127.0.0.1:" + std::to_string(server_->port()));
  ASSERT_TRUE(own);
  EXPECT_EQ(own->result_int(), 200);
  EXPECT_EQ(own->body(), "{\"ok\":true}\n");
  testing::HttpClient twice(server_->port());
  twice.SendRaw("GET /status HTTP/1.1\r\nHost: localhost\r\nHost: evil\r\n\r\n");
  auto refused = twice.Read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->result_int(), 421);
}

// Out of descriptors, the accept loop pauses between failures instead of spinning: five
// failures take at least four pauses (200 ms); a spinning loop makes thousands in that time.
TEST_F(AdminServerTest, PausesWhenAcceptFails) {
#if defined(__SANITIZE_ADDRESS__)
  // With no descriptor left, the sanitizers' own checks fail (UBSan's vptr check probes memory
  // through a pipe) and report Asio's virtual calls as bad: the normal build runs this test.
  GTEST_SKIP() << "needs a process whose runtime does not itself open descriptors";
#endif
  Start();
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  // Take every descriptor the limit leaves, so the server's accept gets none.
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(client) + 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> fillers;
  for (int fd; (fd = ::dup(client)) >= 0;) fillers.push_back(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_TRUE(
      testing::WaitUntil([&] { return server_->accept_failures() >= 5; }, std::chrono::seconds(5)));
  const auto took = std::chrono::steady_clock::now() - started;
  for (int fd : fillers) ::close(fd);
  ::close(client);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(server_->accept_failures(), 200u);
}

}  // namespace
}  // namespace yoke
