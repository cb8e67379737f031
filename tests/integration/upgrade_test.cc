// yoke's own lifecycle with real processes: the in-place upgrade (SIGUSR2 and `yoke upgrade`:
// the same pid execs the binary at its path, hands on its sockets and adopts its instances), an
// upgrade that cannot happen (yoke keeps running on the old image), and socket activation under
// systemd-socket-activate. Waits are bounded; every process is stopped by its pid.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/record_text.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A judge that decides nothing while the test runs: the candidate stays testing throughout.
const char* kPatientJudge = "judge { min_window_s: 600 min_pairs: 1000000 max_window_s: 1200 }\n";

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class UpgradeTest : public ::testing::Test {
 protected:
  UpgradeTest() : yoke_(kPatientJudge) {}

  // The image /status names once it is not the one that started at `before`.
  std::optional<ImageStatus> WaitForNewImage(const std::string& before) {
    std::optional<ImageStatus> found;
    WaitUntil(
        [&] {
          found = yoke_.Image();
          return found && found->started_at() != before;
        },
        30s);
    return found && found->started_at() != before ? found : std::nullopt;
  }

  YokeHarness yoke_;
};

// Three upgrades (two by SIGUSR2, one by `yoke upgrade`) under steady keep-alive load: no user
// request fails, yoke keeps its pid, and running and testing keep theirs (adopted, not
// restarted), with the log saying the evidence window restarted.
TEST_F(UpgradeTest, ThreeUpgradesUnderLoadFailNoRequestAndKeepTheInstances) {
  yoke_.StartYoke();
  yoke_.DropScript("1.0.0", "");
  auto running = yoke_.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke_.Log();
  yoke_.DropScript("2.0.0", "");
  auto testing = yoke_.WaitForRole("testing", "2.0.0");
  ASSERT_TRUE(testing) << yoke_.Log();
  const pid_t yoke_pid = yoke_.yoke().pid();

  LoadGenerator load(yoke_.proxy_port(), {"/version", "/items", "/orders/17"});
  ASSERT_TRUE(WaitUntil([&] { return load.answered() >= 200; }, 20s));
  for (int i = 0; i < 3; ++i) {
    auto before = yoke_.Image();
    ASSERT_TRUE(before) << yoke_.Log();
    const uint64_t answered = load.answered();
    if (i == 1) {
      auto result = yoke_.Cli({"upgrade", "--config", yoke_.config_path().string()});
      ASSERT_EQ(result.code, 0) << result.output << yoke_.Log();
      EXPECT_NE(result.output.find("upgraded: yoke pid " + std::to_string(yoke_pid)),
                std::string::npos)
          << result.output;
      std::cout << "yoke upgrade said: " << result.output;
    } else {
      yoke_.yoke().Signal(SIGUSR2);
    }
    auto after = WaitForNewImage(before->started_at());
    ASSERT_TRUE(after) << "upgrade " << i + 1 << " never showed a new image\n" << yoke_.Log();
    EXPECT_EQ(after->pid(), yoke_pid);
    EXPECT_TRUE(after->upgraded());
    // The new image serves users.
    ASSERT_TRUE(WaitUntil([&] { return load.answered() >= answered + 300; }, 20s)) << yoke_.Log();
    EXPECT_TRUE(ProcessAlive(running->pid()));
    EXPECT_TRUE(ProcessAlive(testing->pid()));
    std::cout << "upgrade " << i + 1 << ": new image started " << after->started_at()
              << ", requests answered so far " << load.answered() << ", failed " << load.failed()
              << "\n";
  }
  load.Stop();
  EXPECT_EQ(load.failed(), 0u) << load.FailureReport();
  EXPECT_TRUE(ProcessAlive(yoke_pid));
  // Same instances: neither role started a second one.
  auto running_now = yoke_.WaitForRole("running", "1.0.0");
  auto testing_now = yoke_.WaitForRole("testing", "2.0.0");
  ASSERT_TRUE(running_now && testing_now);
  EXPECT_EQ(running_now->number(), running->number());
  EXPECT_EQ(running_now->pid(), running->pid());
  EXPECT_EQ(testing_now->pid(), testing->pid());
  const std::string log = yoke_.Log();
  EXPECT_EQ(Count(log, "adopted running instance 1.0.0/0001"), 3u) << log;
  EXPECT_EQ(Count(log, "adopted testing instance 2.0.0/0001"), 3u) << log;
  EXPECT_EQ(Count(log, "evidence window for candidate 2.0.0 restarted after the upgrade"), 3u)
      << log;
  EXPECT_EQ(Count(log, "started running instance"), 1u) << log;
  std::cout << "3 upgrades under load: " << load.answered() << " requests answered, "
            << load.failed() << " failed\n";
  // yoke still stops cleanly, with its instances, after the upgrades.
  auto status = yoke_.StopYoke();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_FALSE(ProcessAlive(running->pid()));
  EXPECT_FALSE(ProcessAlive(testing->pid()));
}

// An upgrade to a binary that does not run, or is not there, leaves yoke on its old image,
// serving, with the reason in the log and from `yoke upgrade`; a good binary then upgrades.
TEST_F(UpgradeTest, ABrokenOrMissingBinaryKeepsTheOldImage) {
  const fs::path bin = yoke_.dir() / "bin";
  fs::create_directories(bin);
  fs::copy_file(YokeBinary(), bin / "yoke");
  fs::copy_file(ExecHelperBinary(), bin / "yoke-exec");
  yoke_.StartYoke(bin / "yoke");
  yoke_.DropScript("1.0.0", "");
  auto running = yoke_.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke_.Log();
  auto first = yoke_.Image();
  ASSERT_TRUE(first);

  // A package upgrade puts a broken file in place (written aside, then renamed over).
  WriteAll(bin / ".yoke.new", "#!/bin/sh\necho this build is broken >&2\nexit 1\n");
  fs::permissions(bin / ".yoke.new", fs::perms::owner_all);
  fs::rename(bin / ".yoke.new", bin / "yoke");
  auto refused = yoke_.Cli({"upgrade", "--config", yoke_.config_path().string()});
  EXPECT_EQ(refused.code, 1) << refused.output;
  EXPECT_NE(refused.output.find("still runs the old image"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--version ended with exit code 1"), std::string::npos)
      << refused.output;
  EXPECT_EQ(HttpGet(yoke_.proxy_port(), "/version").status, 200);
  auto still = yoke_.Image();
  ASSERT_TRUE(still);
  EXPECT_EQ(still->started_at(), first->started_at());
  EXPECT_NE(still->last_upgrade_error(), "");

  // No binary at all.
  fs::remove(bin / "yoke");
  yoke_.yoke().Signal(SIGUSR2);
  ASSERT_TRUE(yoke_.WaitForLog("is not executable")) << yoke_.Log();
  EXPECT_EQ(HttpGet(yoke_.proxy_port(), "/version").status, 200);
  EXPECT_TRUE(ProcessAlive(running->pid()));

  // A good one.
  fs::copy_file(YokeBinary(), bin / "yoke");
  auto upgraded = yoke_.Cli({"upgrade", "--config", yoke_.config_path().string()});
  ASSERT_EQ(upgraded.code, 0) << upgraded.output << yoke_.Log();
  auto after = yoke_.Image();
  ASSERT_TRUE(after);
  EXPECT_NE(after->started_at(), first->started_at());
  EXPECT_EQ(after->pid(), yoke_.yoke().pid());
  EXPECT_EQ(HttpGet(yoke_.proxy_port(), "/version").status, 200);
  auto running_now = yoke_.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running_now);
  EXPECT_EQ(running_now->pid(), running->pid());
}

// Under systemd-socket-activate (as under a .socket unit), the proxy takes its listening socket
// from LISTEN_FDS: requests to the activator's port, not to the config's `listen`, reach the
// running instance, and the variables are not handed on to the instances.
TEST(SocketActivationTest, ProxyServesOnTheSocketSystemdHandsIt) {
  const fs::path activate = "/usr/bin/systemd-socket-activate";
  if (!fs::exists(activate)) GTEST_SKIP() << activate << " is missing (Debian's systemd package)";
  YokeHarness yoke;
  // The artifact is there before yoke starts: the first request wakes the activator, which
  // starts yoke; that request waits in the backlog until running is up.
  yoke.DropScript("1.0.0", "");
  const uint16_t port = FreePort();
  yoke.StartYoke({}, {activate.string(), "-l", "127.0.0.1:" + std::to_string(port)});
  HttpResult first;
  ASSERT_TRUE(WaitUntil(
      [&] {
        first = HttpGet(port, "/version", 15s);
        return first.status != 0;
      },
      30s))
      << yoke.Log();
  EXPECT_EQ(first.status, 200) << first.body << yoke.Log();
  EXPECT_NE(first.body.find("1.0.0"), std::string::npos) << first.body;
  for (int i = 0; i < 20; ++i) {
    auto res = HttpGet(port, "/version");
    EXPECT_EQ(res.status, 200) << res.body;
  }
  // Nothing listens on the config's own port: the proxy did not bind it.
  EXPECT_EQ(HttpGet(yoke.proxy_port(), "/version", 500ms).status, 0);
  EXPECT_TRUE(
      yoke.WaitForLog("proxy accepting on the inherited socket, port " + std::to_string(port)))
      << yoke.Log();
  auto running = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running);
  EXPECT_EQ(running->env().count("LISTEN_FDS"), 0u);
  std::ifstream environ_file("/proc/" + std::to_string(running->pid()) + "/environ");
  std::string env((std::istreambuf_iterator<char>(environ_file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(env.find("LISTEN_FDS="), std::string::npos);
  EXPECT_EQ(env.find("LISTEN_PID="), std::string::npos);

  // yoke runs under the activator (its child): stopped by the pid it reports.
  auto image = yoke.Image();
  ASSERT_TRUE(image);
  ASSERT_GT(image->pid(), 1);
  ::kill(image->pid(), SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(image->pid()); }, 20s));
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(running->pid()); }, 5s));
}

// Rewrites the config file as an editor would (whole, then renamed over), with `from` replaced
// by `to`.
void EditConfig(const fs::path& path, const std::string& from, const std::string& to) {
  std::string text = ReadAll(path);
  auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in " << text;
  text.replace(at, from.size(), to);
  WriteAll(path.string() + ".new", text);
  fs::rename(path.string() + ".new", path);
}

uint64_t MinPairs(uint16_t admin_port) {
  HttpResult res = HttpGet(admin_port, "/status");
  StatusReport report;
  if (res.status != 200 || !ParseJsonRecord("/status", res.body, &report)) return 0;
  return static_cast<uint64_t>(report.judge().min_pairs());
}

// SIGHUP: a live field (judge.min_pairs) changes at once, a field that needs a restart (listen)
// is named in one log line and keeps its running value, and a file that does not parse is
// refused with its file:line while the running config stays and users are served.
TEST(ConfigReloadTest, SighupAppliesLiveFieldsNamesTheRestAndRefusesABadFile) {
  YokeHarness yoke(kPatientJudge);
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  ASSERT_TRUE(yoke.WaitForRole("running", "1.0.0")) << yoke.Log();
  EXPECT_EQ(MinPairs(yoke.admin_port()), 1000000u);

  const uint16_t other_port = FreePort();
  EditConfig(yoke.config_path(), "min_pairs: 1000000", "min_pairs: 777");
  EditConfig(yoke.config_path(), "listen: \"127.0.0.1:" + std::to_string(yoke.proxy_port()),
             "listen: \"127.0.0.1:" + std::to_string(other_port));
  yoke.yoke().Signal(SIGHUP);
  ASSERT_TRUE(yoke.WaitForLog("config reloaded from")) << yoke.Log();
  EXPECT_TRUE(WaitUntil([&] { return MinPairs(yoke.admin_port()) == 777u; }, 5s)) << yoke.Log();
  ASSERT_TRUE(yoke.WaitForLog("changed but needing a restart (running values kept): listen\n"))
      << yoke.Log();
  EXPECT_NE(yoke.Log().find("applied judge"), std::string::npos) << yoke.Log();
  EXPECT_EQ(HttpGet(yoke.proxy_port(), "/version").status, 200);
  EXPECT_EQ(HttpGet(other_port, "/version", 300ms).status, 0);

  // A broken file: the error names the file and the line.
  std::string text = ReadAll(yoke.config_path());
  const size_t lines = std::count(text.begin(), text.end(), '\n');
  WriteAll(yoke.config_path().string() + ".new", text + "judge { min_pairs: \"many\" }\n");
  fs::rename(yoke.config_path().string() + ".new", yoke.config_path());
  yoke.yoke().Signal(SIGHUP);
  ASSERT_TRUE(yoke.WaitForLog("config reload (SIGHUP) refused")) << yoke.Log();
  EXPECT_NE(yoke.Log().find(yoke.config_path().string() + ":" + std::to_string(lines + 1) + ":"),
            std::string::npos)
      << yoke.Log();
  EXPECT_EQ(MinPairs(yoke.admin_port()), 777u);
  EXPECT_EQ(HttpGet(yoke.proxy_port(), "/version").status, 200);
  auto image = yoke.Image();
  ASSERT_TRUE(image);
  EXPECT_NE(image->last_reload_error(), "");
  EXPECT_TRUE(ProcessAlive(yoke.yoke().pid()));
}

}  // namespace
}  // namespace yoke::testing
