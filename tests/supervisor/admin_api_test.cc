#include "supervisor/admin_api.h"

#include <gtest/gtest.h>

#include "meta/digest.h"

namespace yoke {
namespace {

class AdminApiTest : public ::testing::Test {
 protected:
  AdminApiTest() {
    handlers_.status_json = [] { return std::string("{\"ok\":true}\n"); };
    handlers_.metrics_text = [] { return std::string("yoke_up 1\n"); };
    handlers_.token = "s3cret";
    handlers_.verdict = [this](const std::string& action, const std::string& reason,
                               const std::string& author, const std::string& version) {
      calls_.push_back(action + "|" + reason + "|" + author + "|" + version);
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
TEST(AdminWebhookTest, ChecksTheSignatureBeforeFetching) {
  AdminHandlers handlers;
  int fetches = 0;
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", "{}").status, 404u);
  handlers.webhook = [&] { ++fetches; };
  handlers.webhook_secret = "shh";
  const std::string body = R"({"ref":"refs/heads/main"})";
  const std::string good = "sha256=" + HmacSha256Hex("shh", body);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body, "").status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body, "sha256=00").status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body + " ", good).status, 401u);
  EXPECT_EQ(HandleAdminRequest(handlers, "GET", "/webhook", "", body, good).status, 405u);
  EXPECT_EQ(fetches, 0);
  EXPECT_EQ(HandleAdminRequest(handlers, "POST", "/webhook", "", body, good).status, 202u);
  EXPECT_EQ(fetches, 1);
}

}  // namespace
}  // namespace yoke
