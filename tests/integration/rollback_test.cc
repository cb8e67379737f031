// `yoke rollback` with real processes: a version archived after a promotion comes back from its
// archive, as testing (judged like any candidate) or, with --now, as running through the
// no-drop switch. Each is a decision. Waits are bounded; processes are stopped by pid.
#include <gtest/gtest.h>

#include "base-layout/text_record.h"
#include "platform/posix_env.h"
#include "proto/yoke/records.pb.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class RollbackTest : public ::testing::Test {
 protected:
  RollbackTest()
      : yoke_(
            "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 auto_promote_major: true "
            "}\n") {}

  // 1.0.0 ran, 2.0.0 was promoted, and 1.0.0 is archived.
  void PromoteTwoOverOne() {
    yoke_.StartYoke();
    yoke_.DropScript("1.0.0", "");
    ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0")) << yoke_.Log();
    load_ = std::make_unique<LoadGenerator>(yoke_.proxy_port(),
                                            std::vector<std::string>{"/version", "/items"});
    yoke_.DropScript("2.0.0", "");
    ASSERT_TRUE(yoke_.WaitForRole("running", "2.0.0", 2, 40s)) << yoke_.Log();
    ASSERT_TRUE(
        WaitUntil([&] { return fs::exists(yoke_.base() / "archive/hello-1.0.0.zip"); }, 20s));
  }

  YokeHarness::CliResult Rollback(std::vector<std::string> args) {
    args.insert(args.begin(), "rollback");
    args.insert(args.end(), {"--config", yoke_.config_path().string(), "--author", "ada"});
    return yoke_.Cli(args);
  }

  std::optional<Decision> LastDecision() {
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(yoke_.base() / "decisions", ec))
      files.push_back(e.path());
    if (files.empty()) return std::nullopt;
    std::sort(files.begin(), files.end());
    Decision d;
    if (!ReadTextRecord(*PosixEnv(), files.back(), &d)) return std::nullopt;
    return d;
  }

  YokeHarness yoke_;
  std::unique_ptr<LoadGenerator> load_;
};

// Without a version, the one that ran before comes back from its archive as testing, is
// judged, and (being good) is promoted again.
TEST_F(RollbackTest, BringsThePreviousVersionBackAsTesting) {
  PromoteTwoOverOne();
  auto result = Rollback({"--reason", "errors since 2.0.0"});
  ASSERT_EQ(result.code, 0) << result.output << yoke_.Log();
  EXPECT_NE(result.output.find("rolling back to 1.0.0"), std::string::npos) << result.output;
  auto decision = LastDecision();
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->verdict(), Verdict::ROLLBACK);
  EXPECT_EQ(decision->to_version(), "1.0.0");
  EXPECT_EQ(decision->author(), "ada");
  EXPECT_EQ(decision->reason(), "as testing: errors since 2.0.0");
  EXPECT_FALSE(fs::exists(yoke_.base() / "archive/hello-1.0.0.zip"));
  // Its earlier instance folders came back with it; the new instance is numbered after them.
  EXPECT_TRUE(fs::exists(yoke_.base() / "versions/1.0.0/instances/0001-running"));
  ASSERT_TRUE(yoke_.WaitForRole("testing", "1.0.0", 2)) << yoke_.Log();
  ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0", 3, 40s)) << yoke_.Log();
  load_->Stop();
  EXPECT_EQ(load_->failed(), 0u) << load_->FailureReport();
}

// With --now the version becomes running at once, with no failed user request, and a version
// that has no archive is refused with a clear message.
TEST_F(RollbackTest, NowSwitchesRunningWithoutDroppingRequests) {
  PromoteTwoOverOne();
  auto missing = Rollback({"9.9.9", "--now", "--reason", "typo"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("no archive of version 9.9.9"), std::string::npos)
      << missing.output;

  auto result = Rollback({"1.0.0", "--now", "--reason", "outage"});
  ASSERT_EQ(result.code, 0) << result.output << yoke_.Log();
  ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0", 2)) << yoke_.Log();
  auto decision = LastDecision();
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->verdict(), Verdict::ROLLBACK);
  EXPECT_EQ(decision->from_version(), "2.0.0");
  EXPECT_EQ(decision->reason(), "at once: outage");
  EXPECT_TRUE(WaitUntil([&] { return fs::exists(yoke_.base() / "archive/hello-2.0.0.zip"); }, 20s));
  uint64_t before = load_->answered();
  ASSERT_TRUE(WaitUntil([&] { return load_->answered() > before + 200; }, 10s));
  load_->Stop();
  EXPECT_EQ(load_->failed(), 0u) << load_->FailureReport();
  EXPECT_EQ(HttpGet(yoke_.proxy_port(), "/version").body, "1.0.0");
}

}  // namespace
}  // namespace yoke::testing
