// /healthz and /readyz, and the webhook's own listener filtered on the followed branch
// (supervisor/admin/admin_api.h).
#include <gtest/gtest.h>

#include <memory>

#include "meta/digest.h"
#include "supervisor/admin/admin_api.h"
#include "tests/fakes/http_client.h"

namespace yoke {
namespace {

namespace http = boost::beast::http;

// /healthz and /readyz answer 200 "ok" while they hold and 503 with the reason otherwise; only
// GET and HEAD; without a readiness check /readyz is not offered.
TEST(HealthEndpointsTest, AnswerOkOr503WithTheReason) {
  AdminHandlers handlers;
  EXPECT_EQ(HandleAdminRequest(handlers, "GET", "/healthz").status, 200u);
  EXPECT_EQ(HandleAdminRequest(handlers, "GET", "/readyz").status, 404u);
  std::optional<std::string> not_ready = "running is not up";
  std::optional<std::string> not_alive;
  handlers.ready = [&] { return not_ready; };
  handlers.alive = [&] { return not_alive; };
  auto ready = HandleAdminRequest(handlers, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503u);
  EXPECT_EQ(ready.body, "running is not up\n");
  not_ready.reset();
  EXPECT_EQ(HandleAdminRequest(handlers, "GET", "/readyz").status, 200u);
  EXPECT_EQ(HandleAdminRequest(handlers, "HEAD", "/readyz?probe=1").status, 200u);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/readyz").status, 405u);
  EXPECT_EQ(HandleAdminRequest(handlers, "GET", "/healthz").body, "ok\n");
  not_alive = "the supervisor loop last turned 12 s ago";
  EXPECT_EQ(HandleAdminRequest(handlers, "GET", "/healthz").status, 503u);
}

// A push to another branch is acknowledged and fetches nothing; a push to the followed branch
// and a payload without a ref (GitHub's ping) fetch.
TEST(WebhookBranchTest, FetchesOnlyForTheFollowedBranch) {
  EXPECT_TRUE(WebhookIsForBranch(R"({"ref":"refs/heads/main"})", "main"));
  EXPECT_FALSE(WebhookIsForBranch(R"({"ref":"refs/heads/feature"})", "main"));
  EXPECT_FALSE(WebhookIsForBranch(R"({"ref":"refs/tags/main-1"})", "main"));
  EXPECT_TRUE(WebhookIsForBranch(R"({"zen":"ping"})", "main"));
  EXPECT_TRUE(WebhookIsForBranch("not json", "main"));
  EXPECT_TRUE(WebhookIsForBranch(R"({"ref":"refs/heads/feature"})", ""));

  AdminHandlers handlers;
  int fetches = 0;
  handlers.webhook = [&] { ++fetches; };
  handlers.webhook_secret = "shh";
  handlers.webhook_branch = "main";
  auto post = [&](const std::string& body) {
    return HandleAdminRequest(handlers, "POST", "/webhook", "", body,
                              "sha256=" + meta::HmacSha256Hex("shh", body));
  };
  auto other = post(R"({"ref":"refs/heads/feature"})");
  EXPECT_EQ(other.status, 202u);
  EXPECT_NE(other.body.find("ignored"), std::string::npos) << other.body;
  EXPECT_EQ(fetches, 0);
  EXPECT_EQ(post(R"({"ref":"refs/heads/main"})").status, 202u);
  EXPECT_EQ(fetches, 1);
  EXPECT_EQ(post(R"({"zen":"Keep it logically awesome."})").status, 202u);
  EXPECT_EQ(fetches, 2);
}

// The webhook's own listener answers /webhook for any Host (GitHub sends its own name) and
// shows nothing else: /status, /metrics, the page and the verdicts are 404 there.
TEST(WebhookListenerTest, ServesTheWebhookAndNothingElse) {
  AdminHandlers handlers;
  handlers.status_json = [] { return std::string("{\"secret\":1}\n"); };
  handlers.metrics_text = [] { return std::string("yoke_up 1\n"); };
  handlers.verdict = [](ManualAction, const std::string&, const std::string&, const std::string&) {
    return AdminResponse{200, "text/plain", "done\n"};
  };
  handlers.token = "t";
  int fetches = 0;
  handlers.webhook = [&] { ++fetches; };
  handlers.webhook_secret = "shh";
  handlers.webhook_branch = "main";
  handlers.webhook_only = true;
  AdminServer server(handlers);
  ASSERT_TRUE(server.Start({"127.0.0.1", 0}));
  const std::map<std::string, std::string> github = {{"Host", "hooks.example.com"}};
  for (const char* target : {"/", "/status", "/metrics", "/decisions/x"}) {
    testing::HttpClient client(server.port());
    auto res = client.Request(http::verb::get, target, "", github);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->result_int(), 404) << target;
    EXPECT_EQ(res->body().find("secret"), std::string::npos);
  }
  {
    testing::HttpClient client(server.port());
    auto res = client.Request(http::verb::post, "/promote", R"({"reason":"x"})",
                              {{"Host", "hooks.example.com"}, {"Authorization", "Bearer t"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 404);
  }
  const std::string body = R"({"ref":"refs/heads/main"})";
  testing::HttpClient client(server.port());
  auto res = client.Request(http::verb::post, "/webhook", body,
                            {{"Host", "hooks.example.com"},
                             {"X-Hub-Signature-256", "sha256=" + meta::HmacSha256Hex("shh", body)},
                             {"Content-Type", "application/json"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 202);
  server.Stop();
  EXPECT_EQ(fetches, 1);
}

// On the admin listener the health endpoints answer any Host (a load balancer's), while
// /status still refuses a foreign one.
TEST(HealthEndpointsTest, AnswerAnyHostOnTheAdminListener) {
  AdminHandlers handlers;
  handlers.status_json = [] { return std::string("{}\n"); };
  handlers.metrics_text = [] { return std::string(); };
  handlers.ready = [] { return std::optional<std::string>(); };
  AdminServer server(handlers);
  ASSERT_TRUE(server.Start({"127.0.0.1", 0}));
  const std::map<std::string, std::string> lb = {{"Host", "10.9.8.7:8081"}};
  for (const char* target : {"/healthz", "/readyz"}) {
    testing::HttpClient client(server.port());
    auto res = client.Request(http::verb::get, target, "", lb);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->result_int(), 200) << target;
  }
  testing::HttpClient client(server.port());
  auto status = client.Request(http::verb::get, "/status", "", lb);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->result_int(), 421);
  server.Stop();
}

}  // namespace
}  // namespace yoke
