// Issue 18's judge with real processes: logged-in traffic whose copies lose their cookie, a
// new major version that waits for a person, a candidate that changes a field's type (caught
// by the body diff against running's own noise), a slower candidate (the latency rank test),
// and the drift baseline a second promotion is judged against. yoke runs the fixture service;
// each test bounds its waits and stops what it starts by pid.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "base-layout/text_record.h"
#include "platform/posix_env.h"
#include "proto/yoke/records.pb.h"
#include "tests/fakes/http_client.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Quick windows; body samples often enough to judge within seconds.
const std::string kJudge =
    "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 body_diff_min_samples: 10 }\n"
    "mirror { body_sample_rate: 0.2 }\n";

const Gate* GateOf(const Decision& d, const std::string& name) {
  for (const auto& g : d.gates()) {
    if (g.name() == name) return &g;
  }
  return nullptr;
}

std::string Gates(const Decision& d) {
  std::string out = d.reason() + "\n";
  for (const auto& g : d.gates()) out += g.name() + "=" + g.outcome() + ": " + g.detail() + "\n";
  return out;
}

// A logged-in user: GET /account with a session cookie on one keep-alive connection, paced,
// until stopped or 60 s. Counts answers by status.
class LoggedInUser {
 public:
  explicit LoggedInUser(uint16_t port) {
    thread_ = std::thread([this, port] {
      auto client = std::make_unique<HttpClient>(port);
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      for (int i = 0; i < 200000 && !stop_ && std::chrono::steady_clock::now() < deadline; ++i) {
        auto res = client->Request(http::verb::get, "/account", "", {{"Cookie", "session=ann"}});
        if (!res) {
          client = std::make_unique<HttpClient>(port);
          continue;
        }
        if (res->result_int() == 200) ++ok_;
        std::this_thread::sleep_for(1ms);  // pacing, not waiting
      }
    });
  }
  ~LoggedInUser() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t ok() const { return ok_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> ok_{0};
  std::thread thread_;
};

class JudgeBeyondTest : public ::testing::Test {
 protected:
  explicit JudgeBeyondTest(std::string extra = kJudge) : yoke_(std::move(extra)) {}

  void StartRunning(const std::string& version = "1.0.0") {
    yoke_.StartYoke();
    yoke_.DropScript(version, "");
    ASSERT_TRUE(yoke_.WaitForRole("running", version)) << yoke_.Log();
    load_ = std::make_unique<LoadGenerator>(
        yoke_.proxy_port(), std::vector<std::string>{"/version", "/items", "/api/items/7"});
  }

  YokeHarness yoke_;
  std::unique_ptr<LoadGenerator> load_;
};

// Logged-in traffic: running answers /account 200 to the user, testing 401 to the copy without
// its cookie. The judge leaves those out and promotes; the JSON route's timestamps and request
// ids differ on every answer, running's own noise, and do not fail body_diff. The next
// candidate is judged against the first one's recorded rates too, and its decision says so.
TEST_F(JudgeBeyondTest, LoggedInTrafficPromotesAndTheNextCandidateHasABaseline) {
  StartRunning();
  LoggedInUser user(yoke_.proxy_port());
  yoke_.DropScript("1.1.0", "");
  auto decision = WaitForDecision(yoke_.base(), "1.1.0");
  ASSERT_TRUE(decision) << yoke_.Log();
  EXPECT_EQ(decision->verdict(), Verdict::PROMOTE) << Gates(*decision);
  const Gate* lost = GateOf(*decision, "lost_routes");
  ASSERT_NE(lost, nullptr);
  EXPECT_NE(lost->detail().find("401/403 of copies without their credentials not counted"),
            std::string::npos)
      << lost->detail();
  const Gate* body = GateOf(*decision, "body_diff");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->outcome(), "pass") << body->detail();
  EXPECT_GE(body->testing_total(), 1u) << body->detail();  // samples were taken and compared
  EXPECT_GT(decision->testing_rates().pairs(), 0u);
  EXPECT_EQ(decision->testing_rates().version(), "1.1.0");
  EXPECT_GT(decision->testing_rates().p50_ms(), 0);
  EXPECT_GT(user.ok(), 0u);

  ASSERT_TRUE(yoke_.WaitForRole("running", "1.1.0", 2, 30s)) << yoke_.Log();
  yoke_.DropScript("1.2.0", "");
  auto next = WaitForDecision(yoke_.base(), "1.2.0");
  ASSERT_TRUE(next) << yoke_.Log();
  EXPECT_EQ(next->verdict(), Verdict::PROMOTE) << Gates(*next);
  ASSERT_EQ(next->baseline_versions_size(), 1);
  EXPECT_EQ(next->baseline_versions(0), "1.1.0");
  const Gate* drift = GateOf(*next, "5xx_drift");
  ASSERT_NE(drift, nullptr);
  EXPECT_NE(drift->detail().find("(baseline: 1.1.0)"), std::string::npos) << drift->detail();
  user.Stop();
  load_->Stop();
}

// A candidate that answers "price" as a string: body_diff rejects it, naming the route, the
// path and an example; running never differs from itself there.
TEST_F(JudgeBeyondTest, BodyDiffRejectsAChangedFieldType) {
  StartRunning();
  yoke_.DropScript("1.1.0", "--price-as-string");
  auto decision = WaitForDecision(yoke_.base(), "1.1.0");
  ASSERT_TRUE(decision) << yoke_.Log();
  EXPECT_EQ(decision->verdict(), Verdict::REJECT) << Gates(*decision);
  const Gate* body = GateOf(*decision, "body_diff");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->outcome(), "fail") << body->detail();
  ASSERT_EQ(body->culprits_size(), 1) << body->detail();
  EXPECT_EQ(body->culprits(0), "/api/items/:id $.price");
  EXPECT_NE(body->detail().find("type changed"), std::string::npos) << body->detail();
  EXPECT_NE(body->detail().find("(running against itself: 0)"), std::string::npos)
      << body->detail();
  EXPECT_NE(decision->reason().find("/api/items/:id $.price"), std::string::npos)
      << decision->reason();
  load_->Stop();
}

// A candidate 5 ms slower on every request, with the latency rank test as a gate: rejected,
// with each side's quantiles in the decision.
class JudgeLatencyTest : public JudgeBeyondTest {
 protected:
  JudgeLatencyTest()
      : JudgeBeyondTest(
            "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 latency_max_effect: 0.1 }\n") {
  }
};
TEST_F(JudgeLatencyTest, RejectsASlowerCandidate) {
  StartRunning();
  yoke_.DropScript("1.1.0", "--delay-ms 5");
  auto decision = WaitForDecision(yoke_.base(), "1.1.0");
  ASSERT_TRUE(decision) << yoke_.Log();
  EXPECT_EQ(decision->verdict(), Verdict::REJECT) << Gates(*decision);
  const Gate* latency = GateOf(*decision, "latency");
  ASSERT_NE(latency, nullptr);
  EXPECT_EQ(latency->outcome(), "fail") << latency->detail();
  EXPECT_GT(latency->testing_p50_ms(), latency->running_p50_ms() + 3) << latency->detail();
  EXPECT_GT(latency->slower_share(), 0.9);
  bool route_reported = false;
  for (const auto& g : decision->route_gates()) {
    if (g.name() == "latency" && g.route() == "/version") route_reported = g.testing_p99_ms() > 0;
  }
  EXPECT_TRUE(route_reported);
  load_->Stop();
}

// A new major version passes every gate, then waits: /status and `yoke status` say it waits
// for a person, no decision is written, and `yoke promote` promotes it.
class JudgeMajorTest : public JudgeBeyondTest {
 protected:
  JudgeMajorTest()
      : JudgeBeyondTest("judge { min_window_s: 2 min_pairs: 200 max_window_s: 600 }\n") {}
};
TEST_F(JudgeMajorTest, AMajorVersionWaitsForAPerson) {
  StartRunning();
  yoke_.DropScript("2.0.0", "");
  std::string status;
  ASSERT_TRUE(WaitUntil(
      [&] {
        status = HttpGet(yoke_.admin_port(), "/status").body;
        return status.find("\"awaiting_person\":\"2.0.0\"") != std::string::npos;
      },
      50s))
      << status << yoke_.Log();
  EXPECT_FALSE(WaitForDecision(yoke_.base(), "2.0.0", 0s).has_value());
  auto cli = yoke_.Cli({"status", "--config", yoke_.config_path().string()});
  EXPECT_NE(cli.output.find("waits for a person"), std::string::npos) << cli.output;
  auto promote = yoke_.Cli({"promote", "--config", yoke_.config_path().string(), "--reason",
                            "major version reviewed", "--author", "ann"});
  EXPECT_EQ(promote.code, 0) << promote.output;
  auto decision = WaitForDecision(yoke_.base(), "2.0.0");
  ASSERT_TRUE(decision) << yoke_.Log();
  EXPECT_EQ(decision->verdict(), Verdict::PROMOTE);
  EXPECT_EQ(decision->author(), "ann");
  load_->Stop();
}

}  // namespace
}  // namespace yoke::testing
