#include "platform/process.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "tests/fakes/owned_processes.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

using namespace std::chrono_literals;
using testing::ProcessAlive;
using testing::ReadAll;
using testing::WaitUntil;

class ProcessTest : public ::testing::Test {
 protected:
  LaunchSpec Spec(std::vector<std::string> argv) {
    LaunchSpec spec;
    spec.argv = std::move(argv);
    spec.working_dir = dir_.path();
    spec.stdout_path = dir_.path() / "stdout";
    spec.stderr_path = dir_.path() / "stderr";
    return spec;
  }
  std::optional<ExitInfo> WaitExit(ChildProcess& child) {
    std::optional<ExitInfo> exit;
    WaitUntil([&] { return (exit = child.Poll()).has_value(); }, 5s);
    return exit;
  }

  testing::TempDir dir_;
  std::unique_ptr<ProcessLauncher> launcher_ =
      MakeProcessLauncher({.exec_helper = testing::ExecHelperBinary()});
};

// Output goes to the instance's files, in its folder, with the extra environment.
TEST_F(ProcessTest, RunsInFolderWithEnvironmentAndOutputFiles) {
  auto spec = Spec({"sh", "-c", "pwd; echo \"$YOKE_ROLE\"; echo oops >&2; exit 3"});
  spec.extra_env["YOKE_ROLE"] = "testing";
  auto child = launcher_->Launch(spec);
  ASSERT_TRUE(child) << child.error().message();
  auto exit = WaitExit(**child);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->Describe(), "exit code 3");
  EXPECT_EQ(ReadAll(dir_.path() / "stdout"), dir_.path().string() + "\ntesting\n");
  EXPECT_EQ(ReadAll(dir_.path() / "stderr"), "oops\n");
}

// The child inherits none of the supervisor's descriptors: a listening socket held by an
// instance would outlive yoke and swallow its connections.
TEST_F(ProcessTest, ChildInheritsNoDescriptors) {
  int inheritable = ::socket(AF_INET, SOCK_STREAM, 0);  // no CLOEXEC, as Asio opens them
  ASSERT_GE(inheritable, 3);
  auto child = launcher_->Launch(Spec({"sh", "-c", "ls /proc/$$/fd"}));
  ASSERT_TRUE(child);
  ASSERT_TRUE(WaitExit(**child));
  EXPECT_EQ(ReadAll(dir_.path() / "stdout"), "0\n1\n2\n");
  ::close(inheritable);
}

// A signal reaches the whole process group, grandchildren included.
TEST_F(ProcessTest, SignalReachesTheWholeProcessGroup) {
  auto child = launcher_->Launch(Spec({"sh", "-c", "sleep 60 & echo $! > grandchild; wait"}));
  ASSERT_TRUE(child);
  ASSERT_TRUE(WaitUntil([&] { return !ReadAll(dir_.path() / "grandchild").empty(); }, 5s));
  pid_t grandchild = std::stoi(ReadAll(dir_.path() / "grandchild"));
  EXPECT_EQ(::getpgid(grandchild), (*child)->pid());
  (*child)->Signal(SIGTERM);
  auto exit = WaitExit(**child);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(grandchild); }, 5s));
}

// What cannot run is an error with a reason, never an exception.
TEST_F(ProcessTest, ReportsWhatCannotBeExecuted) {
  testing::WriteAll(dir_.path() / "garbage", "not a program");
  std::filesystem::permissions(dir_.path() / "garbage", std::filesystem::perms::owner_all);
  auto bad_format = launcher_->Launch(Spec({(dir_.path() / "garbage").string()}));
  ASSERT_FALSE(bad_format);
  EXPECT_NE(bad_format.error().message().find("Exec format error"), std::string::npos);
  auto missing = launcher_->Launch(Spec({"no-such-program-yoke"}));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("not on PATH"), std::string::npos);
  testing::WriteAll(dir_.path() / "plain", "data");
  auto not_executable = launcher_->Launch(Spec({(dir_.path() / "plain").string()}));
  ASSERT_FALSE(not_executable);
  EXPECT_NE(not_executable.error().message().find("Permission denied"), std::string::npos);
}

// A child starts with no signal blocked or ignored, whatever yoke has (it ignores SIGPIPE).
// Only the standard signals are compared: glibc's posix_spawn leaves its two internal signals
// (32 and 33, below SIGRTMIN) ignored, as in every program a glibc posix_spawn starts.
TEST_F(ProcessTest, ChildStartsWithDefaultSignalDispositions) {
  auto previous = ::signal(SIGPIPE, SIG_IGN);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  auto child = launcher_->Launch(Spec({"grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"}));
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::signal(SIGPIPE, previous);
  ASSERT_TRUE(child) << child.error().message();
  ASSERT_TRUE(WaitExit(**child));
  std::istringstream lines(ReadAll(dir_.path() / "stdout"));
  std::map<std::string, uint64_t> masks;
  for (std::string name, hex; lines >> name >> hex;) masks[name] = std::stoull(hex, nullptr, 16);
  ASSERT_EQ(masks.size(), 2u);
  EXPECT_EQ(masks["SigBlk:"], 0u);
  EXPECT_EQ(masks["SigIgn:"] & 0x7fffffffULL, 0u) << std::hex << masks["SigIgn:"];  // 1-31
}

// A start that does not reach exec within the deadline (here a stand-in helper that stalls) is
// killed, reaped and reported as a failed start with a readable reason.
TEST_F(ProcessTest, StartStuckBeforeExecIsKilledAtTheDeadline) {
  testing::WriteAll(dir_.path() / "stalling-helper",
                    "#!/bin/sh\necho $$ > helper.pid\nexec sleep 30\n");
  std::filesystem::permissions(dir_.path() / "stalling-helper", std::filesystem::perms::owner_all);
  auto launcher =
      MakeProcessLauncher({.exec_helper = dir_.path() / "stalling-helper", .exec_deadline = 300ms});
  auto start = std::chrono::steady_clock::now();
  auto child = launcher->Launch(Spec({"/bin/true"}));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message().find("/bin/true did not exec within 300 ms"), std::string::npos)
      << child.error().message();
  EXPECT_NE(child.error().message().find("killed pid"), std::string::npos);
  EXPECT_GE(took, 300ms);
  std::string pid_text = ReadAll(dir_.path() / "helper.pid");
  ASSERT_FALSE(pid_text.empty());
  EXPECT_FALSE(ProcessAlive(std::stoi(pid_text)));  // killed and reaped
}

// Without its exec helper the launcher says which file it could not run.
TEST_F(ProcessTest, MissingExecHelperIsAReadableError) {
  auto launcher = MakeProcessLauncher({.exec_helper = dir_.path() / "no-such-yoke-exec"});
  auto child = launcher->Launch(Spec({"/bin/true"}));
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message().find("no-such-yoke-exec): No such file or directory"),
            std::string::npos)
      << child.error().message();
}

// The harness finds what a test started even when it left its session and lost its parent
// (the environment mark, tests/fakes/owned_processes.h), and ends it by pid.
TEST_F(ProcessTest, HarnessEndsAnOrphanThatLeftItsSession) {
  auto child = launcher_->Launch(Spec({"sh", "-c", "setsid sleep 60 & echo $! > orphan"}));
  ASSERT_TRUE(child);
  ASSERT_TRUE(WaitExit(**child));
  pid_t orphan = std::stoi(ReadAll(dir_.path() / "orphan"));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto owned = testing::OwnedProcesses();
        return owned.size() == 1 && owned[0].cmdline == "sleep 60";  // setsid has exec'd
      },
      5s));
  auto killed = testing::EndOwnedProcesses(0ms);
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0].pid, orphan);
  EXPECT_EQ(killed[0].cmdline, "sleep 60");
  EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(orphan); }, 5s));
}

// Once the leader has exited, what it left in its session (`sleep &` of a shell that exited 3)
// is still the instance's: Signal reaches it and the instance is not gone until it has ended.
TEST_F(ProcessTest, LeftoverOfAnExitedLeaderIsSignalledAndKeepsTheInstance) {
  auto child = launcher_->Launch(Spec({"sh", "-c", "sleep 321 & echo $! > bg; exit 3"}));
  ASSERT_TRUE(child) << child.error().message();
  auto exit = WaitExit(**child);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 3);
  ASSERT_TRUE(WaitUntil([&] { return !ReadAll(dir_.path() / "bg").empty(); }, 5s));
  pid_t bg = std::stoi(ReadAll(dir_.path() / "bg"));
  EXPECT_EQ(::getsid(bg), (*child)->pid());
  EXPECT_TRUE(ProcessAlive(bg));
  EXPECT_FALSE((*child)->Gone());  // the leader exited, its sleep did not
  (*child)->Signal(SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return (*child)->Gone(); }, 5s));
  EXPECT_FALSE(ProcessAlive(bg));
  // Gone reaped the leader: it is no zombie of ours any more.
  EXPECT_FALSE(ReadProcStat((*child)->pid()).has_value());
}

// A process that moved to a process group of its own (setpgid, as a shell with job control
// does; perl-base is in every Debian) is still in the instance's session, and a stop reaches it.
TEST_F(ProcessTest, ProcessInAnotherGroupOfTheSessionIsStopped) {
  auto child = launcher_->Launch(
      Spec({"sh", "-c", "perl -e 'setpgrp(0, 0); exec \"sleep\", \"321\"' & echo $! > bg; wait"}));
  ASSERT_TRUE(child) << child.error().message();
  ASSERT_TRUE(WaitUntil([&] { return !ReadAll(dir_.path() / "bg").empty(); }, 5s));
  pid_t bg = std::stoi(ReadAll(dir_.path() / "bg"));
  ASSERT_TRUE(WaitUntil([&] { return ::getpgid(bg) == bg; }, 5s));  // its own group
  EXPECT_NE(::getpgid(bg), (*child)->pid());
  EXPECT_EQ(::getsid(bg), (*child)->pid());
  (*child)->Signal(SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return (*child)->Gone(); }, 5s));
  EXPECT_FALSE(ProcessAlive(bg));
}

// As a child subreaper the process gets its instances' orphans: ReapOrphans reaps the exited
// ones by pid without taking a tracked leader's exit status, and lists the live ones (here a
// process that left the session with setsid), which the instance does not claim.
TEST_F(ProcessTest, OrphansComeBackToTheSubreaperAndAreReapedByPid) {
  ASSERT_TRUE(BecomeChildSubreaper());
  auto child = launcher_->Launch(
      Spec({"sh", "-c", "sleep 0.2 & echo $! > quick; setsid sleep 321 & echo $! > bg; exit 4"}));
  ASSERT_TRUE(child) << child.error().message();
  ASSERT_TRUE(WaitUntil([&] { return !ReadAll(dir_.path() / "bg").empty(); }, 5s));
  pid_t quick = std::stoi(ReadAll(dir_.path() / "quick"));
  pid_t bg = std::stoi(ReadAll(dir_.path() / "bg"));
  // Orphans are reaped, and listed, before the leader's exit is read.
  std::vector<OrphanProcess> live;
  ASSERT_TRUE(WaitUntil(
      [&] {
        live = launcher_->ReapOrphans();
        return !ReadProcStat(quick).has_value() && live.size() == 1;
      },
      5s));
  EXPECT_EQ(live[0].pid, bg);
  EXPECT_EQ(live[0].session, bg);
  EXPECT_EQ(live[0].name, "sleep");
  auto exit = WaitExit(**child);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 4);  // not stolen by ReapOrphans
  EXPECT_FALSE(exit->unknown);
  EXPECT_TRUE((*child)->Gone());  // its session is empty: the setsid sleep left it
  ::kill(bg, SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return launcher_->ReapOrphans().empty(); }, 5s));
  EXPECT_FALSE(ReadProcStat(bg).has_value());  // reaped, no zombie left
}

// A daemonizing service (fork, setsid, the first process exits 0) is adopted from its pid:
// the daemon's exit becomes the instance's, its session is the instance's, and a stop reaches
// the daemon and what it forked.
TEST_F(ProcessTest, AdoptedDaemonIsTheInstance) {
  ASSERT_TRUE(BecomeChildSubreaper());
  auto child = launcher_->Launch(
      Spec({"sh", "-c", "setsid sh -c 'sleep 321 & echo $! > worker; wait' & echo $! > daemon"}));
  ASSERT_TRUE(child) << child.error().message();
  auto exit = WaitExit(**child);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return !ReadAll(dir_.path() / "worker").empty(); }, 5s));
  pid_t daemon = std::stoi(ReadAll(dir_.path() / "daemon"));
  pid_t worker = std::stoi(ReadAll(dir_.path() / "worker"));
  EXPECT_FALSE((*child)->Adopt(::getpid()));  // not a child of ours
  EXPECT_FALSE((*child)->Adopt(worker));      // a grandchild, not reparented to us
  ASSERT_TRUE((*child)->Adopt(daemon));
  EXPECT_EQ((*child)->pid(), daemon);
  EXPECT_FALSE((*child)->Poll());  // the daemon runs
  EXPECT_EQ((*child)->Sessions().size(), 2u);
  EXPECT_TRUE(launcher_->ReapOrphans().empty());  // the daemon is tracked now
  (*child)->Signal(SIGTERM);
  auto daemon_exit = WaitExit(**child);
  ASSERT_TRUE(daemon_exit);
  EXPECT_EQ(daemon_exit->signal, SIGTERM);
  EXPECT_TRUE(WaitUntil(
      [&] {
        launcher_->ReapOrphans();
        return (*child)->Gone();
      },
      5s));
  EXPECT_FALSE(ProcessAlive(worker));
  EXPECT_FALSE(ReadProcStat(daemon).has_value());  // reaped by Gone
}

// A child something else reaped (an inherited SIG_IGN of SIGCHLD, a waitpid(-1)) has exited:
// ECHILD never reads as "still running".
TEST_F(ProcessTest, ChildReapedElsewhereCountsAsExited) {
  auto child = launcher_->Launch(Spec({"/bin/true"}));
  ASSERT_TRUE(child) << child.error().message();
  int status = 0;
  ASSERT_EQ(::waitpid((*child)->pid(), &status, 0), (*child)->pid());
  auto exit = (*child)->Poll();
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->unknown);
  EXPECT_EQ(exit->Describe(), "an unknown status (reaped elsewhere)");
  EXPECT_TRUE((*child)->Gone());
  (*child)->Signal(SIGTERM);  // does nothing: the pid may name another process by now
}

// A journal's pid that now names another process (its start time differs) is left alone.
TEST_F(ProcessTest, StaleGroupStopIsGuardedAgainstPidReuse) {
  testing::Subprocess other({"/bin/sleep", "30"}, dir_.path() / "out");
  ASSERT_TRUE(WaitUntil([&] { return ProcessStartTicks(other.pid()).has_value(); }, 5s));
  uint64_t ticks = *ProcessStartTicks(other.pid());
  EXPECT_FALSE(StopStaleProcessGroup(other.pid(), ticks + 1, 100ms));
  EXPECT_TRUE(ProcessAlive(other.pid()));
}

// A stale instance that ignores SIGTERM is killed once the grace period is over.
TEST_F(ProcessTest, StaleGroupIsKilledAfterGrace) {
  auto child = launcher_->Launch(
      Spec({"sh", "-c", "trap '' TERM; touch ready; while true; do sleep 1; done"}));
  ASSERT_TRUE(child);
  pid_t pid = (*child)->pid();
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir_.path() / "ready"); }, 5s));
  EXPECT_TRUE(StopStaleProcessGroup(pid, *ProcessStartTicks(pid), 300ms));
  auto exit = WaitExit(**child);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->signal, SIGKILL);
}

}  // namespace
}  // namespace yoke
