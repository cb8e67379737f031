// Containment with the real `yoke run` (issue 12): nothing an instance starts outlives it. A
// real nginx (Debian's nginx-light) whose master is SIGKILLed leaves no worker behind after the
// restart and after yoke's stop, in the foreground (`daemon off`) and as a daemon (`daemon on`,
// adopted from its pid file); a shell's background `sleep` and a process that left its
// session are stopped too; and yoke resets an inherited SIG_IGN of SIGCHLD.
// Every process is on 127.0.0.1 in a temp folder; every wait has a deadline; nginx does not
// carry the test harness's environment mark (it writes its title over its environment), so
// what this file sees of nginx is ended here, by pid, if a test fails.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include "platform/process.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kNginx[] = "/usr/sbin/nginx";

// Live processes whose parent or process group is `pid` (nginx's workers of a master).
std::vector<pid_t> WorkersOf(pid_t pid) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  while (dirent* d = ::readdir(proc)) {
    char* end = nullptr;
    long other = std::strtol(d->d_name, &end, 10);
    if (*end != '\0' || other <= 0 || other == pid) continue;
    auto stat = ReadProcStat(static_cast<pid_t>(other));
    if (stat && stat->state != 'Z' && (stat->ppid == pid || stat->group == pid)) {
      found.push_back(static_cast<pid_t>(other));
    }
  }
  ::closedir(proc);
  return found;
}

std::vector<pid_t> AliveOf(const std::vector<pid_t>& pids) {
  std::vector<pid_t> alive;
  for (pid_t pid : pids) {
    if (ProcessAlive(pid)) alive.push_back(pid);
  }
  return alive;
}

std::string Pids(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) out += (out.empty() ? "" : " ") + std::to_string(pid);
  return out.empty() ? "none" : out;
}

// Processes this test saw, ended by pid at scope exit if still alive (and still the process it
// saw: same start time). A passing test leaves nothing for it to do.
class Leftovers {
 public:
  void Add(pid_t pid) {
    if (auto ticks = ProcessStartTicks(pid)) seen_[pid] = *ticks;
  }
  void Add(const std::vector<pid_t>& pids) {
    for (pid_t pid : pids) Add(pid);
  }
  ~Leftovers() {
    for (const auto& [pid, ticks] : seen_) {
      if (ProcessAlive(pid) && ProcessStartTicks(pid) == ticks) {
        std::fprintf(stderr, "[ leftover ] pid %d still alive: killed\n", static_cast<int>(pid));
        ::kill(pid, SIGKILL);
      }
    }
  }

 private:
  std::map<pid_t, uint64_t> seen_;
};

// An artifact that writes an nginx config for yoke's $PORT into its instance folder (pid file,
// error log and temp paths there too) and execs nginx with `-p` and `-e` in that folder.
std::string NginxScript(bool daemon) {
  return std::string(
             "#!/bin/sh\nd=\"$PWD\"\nmkdir -p \"$d/tmp\"\ncat > \"$d/nginx.conf\" <<EOF\n") +
         "daemon " + (daemon ? "on" : "off") +
         ";\nmaster_process on;\nworker_processes 2;\npid $d/nginx.pid;\n"
         "error_log $d/error.log;\nevents { worker_connections 64; }\n"
         "http {\n  access_log off;\n  client_body_temp_path $d/tmp/body;\n"
         "  proxy_temp_path $d/tmp/proxy;\n  fastcgi_temp_path $d/tmp/fastcgi;\n"
         "  uwsgi_temp_path $d/tmp/uwsgi;\n  scgi_temp_path $d/tmp/scgi;\n"
         "  server { listen 127.0.0.1:$PORT; location / { return 200 \"nginx\\n\"; } }\n"
         "}\nEOF\nexec " +
         kNginx + " -p \"$d/\" -c \"$d/nginx.conf\" -e \"$d/error.log\"\n";
}

// Runs nginx under yoke, SIGKILLs its master and checks that no worker survives the restart
// nor yoke's stop.
void NginxMasterKilledLeavesNoWorker(bool daemon) {
  if (::access(kNginx, X_OK) != 0) GTEST_SKIP() << kNginx << " is not installed (nginx-light)";
  YokeHarness yoke(daemon ? "pid_file: \"nginx.pid\"\n" : "");
  Leftovers leftovers;
  yoke.StartYoke();
  yoke.DropFile("hello-1.0.0.sh", NginxScript(daemon));
  auto first = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(first) << yoke.Log();
  const pid_t master = first->pid();
  leftovers.Add(master);
  std::vector<pid_t> workers;
  ASSERT_TRUE(WaitUntil([&] { return (workers = WorkersOf(master)).size() == 2; }, 10s))
      << "workers of " << master << ": " << Pids(workers) << "\n"
      << yoke.Log();
  leftovers.Add(workers);
  EXPECT_EQ(HttpGet(first->port(), "/").body, "nginx\n");
  if (daemon) {
    // The daemon, not the process yoke started, is the instance's main process.
    EXPECT_NE(yoke.Log().find("adopted pid " + std::to_string(master)), std::string::npos)
        << yoke.Log();
    EXPECT_EQ(std::to_string(master) + "\n",
              ReadAll(yoke.base() / "versions/1.0.0/instances/0001-running/nginx.pid"));
  }

  ASSERT_EQ(::kill(master, SIGKILL), 0);
  auto second = yoke.WaitForRole("running", "1.0.0", 2);
  ASSERT_TRUE(second) << yoke.Log();
  leftovers.Add(second->pid());
  EXPECT_TRUE(WaitUntil([&] { return AliveOf(workers).empty(); }, 10s))
      << "workers of the killed master still alive: " << Pids(AliveOf(workers)) << "\n"
      << yoke.Log();
  std::vector<pid_t> new_workers;
  ASSERT_TRUE(WaitUntil([&] { return (new_workers = WorkersOf(second->pid())).size() == 2; }, 10s))
      << yoke.Log();
  leftovers.Add(new_workers);
  EXPECT_EQ(HttpGet(second->port(), "/").body, "nginx\n");
  std::printf("[ nginx    ] daemon %s: master %d workers %s killed; restarted as %d workers %s\n",
              daemon ? "on" : "off", master, Pids(workers).c_str(), second->pid(),
              Pids(new_workers).c_str());

  auto status = yoke.StopYoke();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  // yoke has exited: an instance counts as stopped only when nothing of it is left, so nothing
  // may be alive now, without waiting.
  std::vector<pid_t> all = workers;
  all.insert(all.end(), new_workers.begin(), new_workers.end());
  all.push_back(master);
  all.push_back(second->pid());
  EXPECT_EQ(Pids(AliveOf(all)), "none") << yoke.Log();
}

// nginx in the foreground: the master is yoke's instance; its workers, orphaned when it is
// killed, come back to yoke and are stopped with it.
TEST(ContainmentTest, NginxMasterKilledLeavesNoWorkerDaemonOff) {
  NginxMasterKilledLeavesNoWorker(/*daemon=*/false);
}

// nginx as a daemon (it forks, calls setsid, and the process yoke started exits 0): adopted
// from its pid file, and contained all the same.
TEST(ContainmentTest, NginxMasterKilledLeavesNoWorkerDaemonOn) {
  NginxMasterKilledLeavesNoWorker(/*daemon=*/true);
}

// A shell's background process (here a `sleep` next to the service) is stopped when its
// instance crashes and when yoke stops; one that left the session with setsid is stopped as a
// stray once its parent is gone.
TEST(ContainmentTest, BackgroundProcessesOfAnInstanceDoNotOutliveIt) {
  YokeHarness yoke;
  Leftovers leftovers;
  fs::path pids = yoke.base().parent_path() / "bg-pids";
  yoke.StartYoke();
  yoke.DropFile("hello-1.0.0.sh", "#!/bin/sh\nsleep 321 &\necho $! >> " + pids.string() +
                                      "\nsetsid sleep 322 &\necho $! >> " + pids.string() +
                                      "\nexec " + FixtureBinary().string() + " \"$@\"\n");
  auto first = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(first) << yoke.Log();
  auto read_pids = [&] {
    std::vector<pid_t> out;
    std::ifstream in(pids);
    for (long pid; in >> pid;) out.push_back(static_cast<pid_t>(pid));
    return out;
  };
  std::vector<pid_t> before = read_pids();
  ASSERT_EQ(before.size(), 2u);
  leftovers.Add(before);
  EXPECT_EQ(::getsid(before[0]), first->pid());
  EXPECT_EQ(::getsid(before[1]), before[1]);  // left the instance's session

  ASSERT_EQ(::kill(first->pid(), SIGKILL), 0);
  auto second = yoke.WaitForRole("running", "1.0.0", 2);
  ASSERT_TRUE(second) << yoke.Log();
  EXPECT_TRUE(WaitUntil([&] { return AliveOf(before).empty(); }, 10s))
      << "still alive: " << Pids(AliveOf(before)) << "\n"
      << yoke.Log();
  EXPECT_NE(yoke.Log().find("left by an instance"), std::string::npos) << yoke.Log();
  std::vector<pid_t> after = read_pids();
  ASSERT_EQ(after.size(), 4u);
  leftovers.Add(after);
  auto status = yoke.StopYoke();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  // The setsid'd sleep of the second instance was still a child of the live fixture when yoke
  // stopped it; once the fixture was stopped it came back to yoke, which stopped it too.
  EXPECT_EQ(Pids(AliveOf(after)), "none") << yoke.Log();
}

// A pid file cannot point yoke at a process that is not the instance's: here it names yoke
// itself, then garbage. The start fails at the health deadline with a reason, yoke goes on.
TEST(ContainmentTest, PidFileNamingAStrangerIsRefused) {
  YokeHarness yoke(
      "pid_file: \"app.pid\"\nhealth { http_path: \"/health\" timeout_ms: 1000 "
      "interval_ms: 50 }\n");
  yoke.StartYoke();
  yoke.DropFile("hello-1.0.0.sh",
                "#!/bin/sh\ncase \"$PWD\" in\n  */0001-running) echo $PPID > app.pid ;;\n"
                "  *) echo 'not a pid' > app.pid ;;\nesac\nexit 0\n");
  ASSERT_TRUE(yoke.WaitForLog("no daemon's pid appeared in")) << yoke.Log();
  ASSERT_TRUE(WaitUntil([&] { return yoke.ReadInstance("1.0.0", 2, "running").has_value(); }, 10s));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto second = yoke.ReadInstance("1.0.0", 2, "running");
        return second && !second->error().empty();
      },
      10s))
      << yoke.Log();
  // The record is written before the log line that says why: wait for the line.
  EXPECT_TRUE(yoke.WaitForLog("the pid file holds no pid")) << yoke.Log();
  EXPECT_NE(yoke.Log().find("is not a child of yoke"), std::string::npos) << yoke.Log();
  EXPECT_EQ(yoke.Log().find("adopted pid"), std::string::npos) << yoke.Log();
  EXPECT_EQ(HttpGet(yoke.admin_port(), "/status").status, 200);  // yoke goes on
  auto status = yoke.StopYoke();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// A running instance that stops answering (here frozen with SIGSTOP, as a hung process) fails
// its periodic health checks and is restarted like a crash; the frozen process is killed after
// the grace period.
TEST(ContainmentTest, HungRunningInstanceIsRestarted) {
  YokeHarness yoke(
      "health { http_path: \"/health\" timeout_ms: 5000 interval_ms: 50 probe_timeout_ms: 200 "
      "check_interval_ms: 100 failure_threshold: 3 }\n");
  Leftovers leftovers;
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  auto first = yoke.WaitForRole("running", "1.0.0");
  ASSERT_TRUE(first) << yoke.Log();
  leftovers.Add(first->pid());
  ASSERT_EQ(::kill(first->pid(), SIGSTOP), 0);
  auto second = yoke.WaitForRole("running", "1.0.0", 2);
  ASSERT_TRUE(second) << yoke.Log();
  leftovers.Add(second->pid());
  EXPECT_NE(yoke.Log().find("failed its health check (3 of 3 in a row)"), std::string::npos)
      << yoke.Log();
  EXPECT_NE(yoke.Log().find("stopped answering its health check: 3 failed in a row"),
            std::string::npos)
      << yoke.Log();
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(first->pid()); }, 10s)) << yoke.Log();
  EXPECT_EQ(HttpGet(yoke.proxy_port(), "/version").body, "1.0.0");
  auto status = yoke.StopYoke();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// yoke resets signal dispositions at start: started with SIGCHLD ignored (which would make the
// kernel reap its children itself), it still sees how a killed instance ended.
TEST(ContainmentTest, InheritedIgnoredSigchldIsReset) {
  YokeHarness yoke;
  Leftovers leftovers;
  fs::path out = yoke.base().parent_path() / "yoke-wrapped.out";
  // The shell ignores SIGCHLD, then execs yoke in its place (same pid).
  Subprocess wrapped({"/bin/sh", "-c", "trap '' CHLD; exec \"$0\" run --config \"$1\"",
                      YokeBinary().string(), yoke.config_path().string()},
                     out);
  auto sig_ignored = [&] {
    std::ifstream status("/proc/" + std::to_string(wrapped.pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("SigIgn:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
    }
    return ~0ULL;
  };
  ASSERT_TRUE(WaitUntil([&] { return ReadAll(out).find("supervising") != std::string::npos; }, 15s))
      << ReadAll(out);
  const uint64_t ignored = sig_ignored();
  EXPECT_EQ(ignored & (1ULL << (SIGCHLD - 1)), 0u) << std::hex << ignored;
  EXPECT_NE(ignored & (1ULL << (SIGPIPE - 1)), 0u) << std::hex << ignored;  // yoke's own choice
  yoke.DropScript("1.0.0", "");
  std::optional<InstanceRecord> first;
  ASSERT_TRUE(WaitUntil(
      [&] {
        first = yoke.ReadInstance("1.0.0", 1, "running");
        return first && !first->ready_at().empty();
      },
      15s))
      << ReadAll(out);
  leftovers.Add(first->pid());
  ASSERT_EQ(::kill(first->pid(), SIGKILL), 0);
  EXPECT_TRUE(WaitUntil(
      [&] { return ReadAll(out).find("exited while up with signal 9") != std::string::npos; }, 10s))
      << ReadAll(out);
  wrapped.Signal(SIGTERM);
  auto status = wrapped.Wait(20s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

}  // namespace
}  // namespace yoke::testing
