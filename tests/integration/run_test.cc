// `yoke run` for real: intake, start, crash and restart, signals, kill -9 and resume,
// bad artifacts, archives and the disk budget. Every process is on 127.0.0.1, every wait has
// a deadline, and every process started here is stopped by its pid.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base-layout/text_record.h"
#include "platform/posix_env.h"
#include "proto/yoke/records.pb.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int CountInstances(const fs::path& base, const std::string& version) {
  int n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(base / "versions" / version / "instances", ec)) {
    (void)e;
    ++n;
  }
  return n;
}

// The first artifact becomes running, in an instance folder laid out as the design says.
TEST(RunTest, FirstVersionRunsInItsInstanceFolder) {
  YokeHarness yoke("properties_file: \"app.properties\"\nport_key: \"server.port\"\n");
  WriteAll(yoke.base() / "app.properties", "# demo\nserver.port=1\nname=demo\n");
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  auto running = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke.Log();
  EXPECT_EQ(HttpGet(running->port(), "/version").body, "1.0.0");
  fs::path dir = yoke.base() / "versions/1.0.0/instances/0001-running";
  EXPECT_TRUE(fs::equivalent(yoke.base() / "running", dir));
  EXPECT_EQ(fs::read_symlink(dir / "artifact"), "../../hello-1.0.0.sh");
  EXPECT_EQ(ReadAll(dir / "app.properties"),
            "# demo\nserver.port=" + std::to_string(running->port()) + "\nname=demo\n");
  EXPECT_NE(
      ReadAll(dir / "stdout").find("listening on 127.0.0.1:" + std::to_string(running->port())),
      std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "stderr"));
  EXPECT_TRUE(WaitUntil([&] { return fs::exists(dir / "logs/json/app.log"); }, 5s));
  EXPECT_EQ(running->env().at("YOKE_ROLE"), "running");
  EXPECT_EQ(running->env().at("YOKE_VERSION"), "1.0.0");
  EXPECT_GT(running->start_ticks(), 0u);
  EXPECT_FALSE(fs::exists(yoke.base() / "hello-1.0.0.sh"));
}

// A file still being copied is left alone until it has stopped changing; the real binary,
// half-written, would fail to exec if yoke took it too early.
TEST(RunTest, HalfWrittenArtifactIsNotTakenIn) {
  YokeHarness yoke;
  yoke.StartYoke();
  std::string binary = ReadAll(FixtureBinary());
  fs::path drop = yoke.base() / "hello-1.0.0";
  WriteAll(drop, binary.substr(0, binary.size() / 2));
  fs::permissions(drop, fs::perms::owner_all);
  ASSERT_TRUE(yoke.WaitForLog("artifact seen: " + drop.string())) << yoke.Log();
  // A slow copy: a chunk every 100 ms, faster than the 300 ms settle time.
  size_t written = binary.size() / 2;
  for (int i = 0; i < 8; ++i) {
    size_t chunk = (binary.size() - written) / (8 - i) / 2;
    std::FILE* f = std::fopen(drop.c_str(), "ab");
    std::fwrite(binary.data() + written, 1, chunk, f);
    std::fclose(f);
    written += chunk;
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(fs::exists(drop)) << "taken in while still being written";
  }
  std::FILE* f = std::fopen(drop.c_str(), "ab");
  std::fwrite(binary.data() + written, 1, binary.size() - written, f);
  std::fclose(f);
  auto running = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke.Log();
  EXPECT_EQ(fs::file_size(yoke.base() / "versions/1.0.0/hello-1.0.0"), binary.size());
  EXPECT_EQ(HttpGet(running->port(), "/version").body, "1.0.0");
}

// A later version starts as testing beside running, on its own port; a port in use is skipped.
TEST(RunTest, LaterVersionIsTestedBesideRunningAndBusyPortsAreSkipped) {
  YokeHarness yoke;
  // Someone else holds the first port of the range.
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(yoke.first_port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::listen(holder, 1);
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  auto running = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke.Log();
  EXPECT_NE(running->port(), yoke.first_port());
  yoke.DropScript("2.0.0", "");
  auto testing = yoke.WaitForRole("testing", "2.0.0");
  ASSERT_TRUE(testing) << yoke.Log();
  EXPECT_NE(testing->port(), running->port());
  EXPECT_EQ(HttpGet(testing->port(), "/version").body, "2.0.0");
  EXPECT_EQ(HttpGet(running->port(), "/version").body, "1.0.0");
  EXPECT_EQ(testing->env().at("YOKE_ROLE"), "testing");
  ::close(holder);
}

// A crashing running instance is restarted with backoff; the crash loop is logged, and the
// restarts do not spin.
TEST(RunTest, CrashingRunningIsRestartedWithBackoff) {
  YokeHarness yoke;
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "--crash-after-ms 300");
  ASSERT_TRUE(yoke.WaitForLog("is in a crash loop", 20s)) << yoke.Log();
  auto started = std::chrono::steady_clock::now();
  int before = CountInstances(yoke.base(), "1.0.0");
  std::this_thread::sleep_for(2s);  // measuring a rate over a fixed span, not waiting on state
  int after = CountInstances(yoke.base(), "1.0.0");
  auto span = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  // Backoff is capped at 800 ms, each life lasts ~300 ms: at most one start per ~1.1 s.
  EXPECT_LE(after - before, static_cast<int>(span.count() / 1000) + 1);
  EXPECT_GE(before, 3);
  auto first = yoke.ReadInstance("1.0.0", 1, "running");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->exit(), "exit code 3");
  EXPECT_NE(first->error().find("exited while up with exit code 3"), std::string::npos);
  EXPECT_NE(yoke.Log().find("restarting running version 1.0.0"), std::string::npos);
}

// SIGTERM stops every child and exits 0; the journal keeps the versions for the next start.
TEST(RunTest, SigtermStopsChildrenAndExitsZero) {
  YokeHarness yoke;
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  auto running = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke.Log();
  yoke.DropScript("2.0.0", "");
  auto testing = yoke.WaitForRole("testing", "2.0.0");
  ASSERT_TRUE(testing) << yoke.Log();
  auto status = yoke.StopYoke(SIGTERM);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_FALSE(ProcessAlive(running->pid()));
  EXPECT_FALSE(ProcessAlive(testing->pid()));
  Journal journal;
  ASSERT_TRUE(ReadTextRecord(*PosixEnv(), yoke.base() / "state/journal.txtpb", &journal));
  EXPECT_EQ(journal.running().version(), "1.0.0");
  EXPECT_EQ(journal.testing().version(), "2.0.0");
  EXPECT_FALSE(yoke.ReadInstance("1.0.0", 1, "running")->stopped_at().empty());
}

// After kill -9, a new yoke stops what was left (even a child that ignores SIGTERM), and
// resumes the same running and testing versions: no orphan, no second copy.
TEST(RunTest, Kill9ThenRestartLeavesNoOrphanAndResumes) {
  YokeHarness yoke;
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "--ignore-sigterm");
  auto running = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke.Log();
  yoke.DropScript("2.0.0", "");
  auto testing = yoke.WaitForRole("testing", "2.0.0");
  ASSERT_TRUE(testing) << yoke.Log();
  yoke.KillYoke();
  // The testing child dies with its parent; the running one ignores the signal and lingers.
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(testing->pid()); }, 5s));
  EXPECT_TRUE(ProcessAlive(running->pid()));

  yoke.StartYoke();
  auto running2 = yoke.WaitForRole("running", "1.0.0", 2);
  ASSERT_TRUE(running2) << yoke.Log();
  EXPECT_EQ(running2->number(), 2u);
  EXPECT_FALSE(ProcessAlive(running->pid())) << "orphan left running";
  auto testing2 = yoke.WaitForRole("testing", "2.0.0", 2);
  ASSERT_TRUE(testing2) << yoke.Log();
  EXPECT_EQ(testing2->number(), 2u);
  EXPECT_NE(yoke.Log().find("left from before yoke restarted"), std::string::npos);
  yoke.StopYoke();
  EXPECT_FALSE(ProcessAlive(running2->pid()));
}

// A journal pid that now belongs to another process is not killed: start time is checked.
TEST(RunTest, RestartDoesNotKillAProcessThatReusedAPid) {
  YokeHarness yoke;
  Subprocess bystander({"/bin/sleep", "60"}, yoke.base().parent_path() / "bystander.out");
  fs::create_directories(yoke.base() / "versions/1.0.0/instances");
  WriteAll(yoke.base() / "versions/1.0.0/hello-1.0.0.sh",
           "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\"\n");
  fs::permissions(yoke.base() / "versions/1.0.0/hello-1.0.0.sh", fs::perms::owner_all);
  fs::create_directories(yoke.base() / "state");
  WriteAll(yoke.base() / "state/journal.txtpb",
           "running { version: \"1.0.0\" number: 1 role: \"running\" pid: " +
               std::to_string(bystander.pid()) + " start_ticks: 1 }\n");
  yoke.StartYoke();
  ASSERT_TRUE(yoke.WaitForRole("running", "1.0.0")) << yoke.Log();
  EXPECT_TRUE(ProcessAlive(bystander.pid()));
}

// Artifacts that cannot run (not a program, exits at once, never healthy) are rejected with a
// clear error in the log and the instance folder, archived, and yoke goes on serving.
TEST(RunTest, BadArtifactsAreRejectedAndYokeGoesOn) {
  YokeHarness yoke("health { http_path: \"/health\" timeout_ms: 1500 interval_ms: 50 }\n");
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  auto running = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(running) << yoke.Log();

  yoke.DropFile("hello-2.0.0", "this is not a program\n");
  ASSERT_TRUE(yoke.WaitForLog("candidate 2.0.0 rejected")) << yoke.Log();
  EXPECT_NE(yoke.Log().find("Exec format error"), std::string::npos);

  yoke.DropFile("hello-3.0.0.sh", "#!/bin/sh\necho 'config missing' >&2\nexit 7\n");
  ASSERT_TRUE(yoke.WaitForLog("candidate 3.0.0 rejected")) << yoke.Log();
  EXPECT_NE(yoke.Log().find("exited during startup with exit code 7"), std::string::npos);

  yoke.DropScript("4.0.0", "--never-healthy");
  ASSERT_TRUE(yoke.WaitForLog("candidate 4.0.0 rejected")) << yoke.Log();
  EXPECT_NE(yoke.Log().find("not healthy within 1500 ms (last check: HTTP 503)"),
            std::string::npos);

  for (const char* zip : {"hello-2.0.0.zip", "hello-3.0.0.zip", "hello-4.0.0.zip"}) {
    EXPECT_TRUE(WaitUntil([&] { return fs::exists(yoke.base() / "archive" / zip); }, 5s)) << zip;
  }
  EXPECT_FALSE(fs::exists(yoke.base() / "versions/3.0.0"));
  int decisions = 0;
  for (auto& e : fs::directory_iterator(yoke.base() / "decisions")) {
    Decision d;
    ASSERT_TRUE(ReadTextRecord(*PosixEnv(), e.path(), &d));
    EXPECT_EQ(d.verdict(), Verdict::REJECT);
    EXPECT_EQ(d.from_version(), "1.0.0");
    ++decisions;
  }
  EXPECT_EQ(decisions, 3);
  EXPECT_EQ(HttpGet(running->port(), "/version").body, "1.0.0");
  EXPECT_EQ(yoke.WaitForRole("running", "1.0.0")->number(), 1u);
}

// Over the disk budget the oldest archives are deleted; the running version never is.
TEST(RunTest, DiskBudgetDeletesArchivesNotTheRunningVersion) {
  YokeHarness yoke("disk_budget_bytes: 1\n");
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  ASSERT_TRUE(yoke.WaitForRole("running", "1.0.0")) << yoke.Log();
  yoke.DropScript("2.0.0", "");
  ASSERT_TRUE(yoke.WaitForRole("testing", "2.0.0")) << yoke.Log();
  yoke.DropScript("3.0.0", "");  // supersedes 2.0.0, which is archived, then over budget
  ASSERT_TRUE(yoke.WaitForLog("deleted oldest archive")) << yoke.Log();
  EXPECT_NE(yoke.Log().find("archived version 2.0.0"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(yoke.base() / "archive"));
  EXPECT_TRUE(fs::exists(yoke.base() / "versions/1.0.0/hello-1.0.0.sh"));
  EXPECT_TRUE(yoke.WaitForRole("testing", "3.0.0"));
}

// Two supervisors never share a base: the second one exits 3 and says why.
TEST(RunTest, SecondSupervisorOnTheSameBaseRefuses) {
  YokeHarness yoke;
  yoke.StartYoke();
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(yoke.base() / "state/yoke.lock"); }, 5s));
  ASSERT_TRUE(yoke.WaitForLog("supervising hello"));
  Subprocess second({YokeBinary().string(), "run", "--config", yoke.config_path().string()},
                    yoke.base().parent_path() / "second.out");
  auto status = second.Wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_NE(ReadAll(yoke.base().parent_path() / "second.out").find("another yoke supervises"),
            std::string::npos);
}

// `yoke versions` lists versions, instances with their state, and archives.
TEST(RunTest, VersionsCommandListsVersionsInstancesAndArchives) {
  YokeHarness yoke;
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  ASSERT_TRUE(yoke.WaitForRole("running", "1.0.0")) << yoke.Log();
  yoke.DropFile("hello-2.0.0", "junk");
  ASSERT_TRUE(yoke.WaitForLog("archived version 2.0.0")) << yoke.Log();
  fs::path out = yoke.base().parent_path() / "versions.out";
  Subprocess versions({YokeBinary().string(), "versions", "--config", yoke.config_path().string()},
                      out);
  auto status = versions.Wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  std::string text = ReadAll(out);
  EXPECT_NE(text.find("version 1.0.0  hello-1.0.0.sh"), std::string::npos) << text;
  EXPECT_NE(text.find("0001-running"), std::string::npos) << text;
  EXPECT_NE(text.find("alive  <- running"), std::string::npos) << text;
  EXPECT_NE(text.find("hello-2.0.0.zip"), std::string::npos) << text;
}

// check-config: exit 0 on a good file; exit 2 with file:line:column on a bad one.
TEST(RunTest, CheckConfigExitCodes) {
  YokeHarness yoke;
  fs::path out = yoke.base().parent_path() / "check.out";
  Subprocess good({YokeBinary().string(), "check-config", yoke.config_path().string()}, out);
  EXPECT_EQ(WEXITSTATUS(*good.Wait(10s)), 0);
  fs::path bad = yoke.base().parent_path() / "bad.txtpb";
  WriteAll(bad,
           "service: \"x\"\nbase_dir: \"/b\"\ncommand: \"run\"\nport_range { first: 9 last: 1 }\n");
  Subprocess check({YokeBinary().string(), "check-config", bad.string()}, out);
  EXPECT_EQ(WEXITSTATUS(*check.Wait(10s)), 2);
  std::string text = ReadAll(out);
  EXPECT_NE(text.find(bad.string() + ":3:1: error: command must use {artifact}"), std::string::npos)
      << text;
  EXPECT_NE(text.find(bad.string() + ":4:1: error: port_range is empty"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace yoke::testing
