// Child processes: the launcher interface the supervisor starts instances through, and the
// real one. A child runs in its own process group (so a stop reaches every process it forked)
// and gets SIGTERM when the supervisor dies (parent-death signal).
//
// How a child starts. yoke is multi-threaded (proxy, admin API, meta, spdlog), so no code of
// ours runs in a forked copy of it: a lock another thread held at the fork (the sanitizer's
// allocator, spdlog's, Boost's, ours) would be held forever in the child, which then spins or
// blocks between fork and exec and outlives everything. The real launcher calls glibc's
// posix_spawn, whose child (clone(CLONE_VM|CLONE_VFORK) on its own stack) runs only glibc's
// async-signal-safe steps, set up here as attributes and file actions:
//   sigprocmask (POSIX_SPAWN_SETSIGMASK, empty mask), sigaction(SIG_DFL) for every signal
//   (POSIX_SPAWN_SETSIGDEF: a child never inherits yoke's SIG_IGN of SIGPIPE), setpgid(0, 0)
//   (POSIX_SPAWN_SETPGROUP), open("/dev/null") as stdin, dup2 of the stdout/stderr files
//   (opened O_APPEND|O_CLOEXEC here, in the parent) and of the report pipe to fd 3, chdir
//   (posix_spawn_file_actions_addchdir_np), close_range(4, ~0) (addclosefrom_np), execve.
// It execs the exec helper `yoke-exec` (platform/exec_helper.cc), a separate tiny program
// that sets PR_SET_PDEATHSIG, which posix_spawn cannot, checks getppid against yoke, marks the
// report pipe close-on-exec and execs the real program. Each of those is a plain system call in
// a fresh single-threaded process.
//
// The start deadline. posix_spawn returns once the helper is exec'd (or failed); the launcher
// then waits on the report pipe, at most `exec_deadline`: end of file means the program was
// exec'd, a record {step, errno} means it could not be (the start fails with that reason),
// and silence past the deadline means the helper is stuck: it is killed (SIGKILL to its group,
// by pid), reaped, and the start fails with "did not exec within N ms". The helper's part is a
// few system calls (well under a millisecond; the stress test measures whole starts), so the
// deadline only ever ends a start that is really stuck, and a supervisor tick blocks at most
// that long for one.
//
// Thread-safety: a launcher may be used from several threads; a child belongs to one thread.
// The parent-death signal fires when the *thread* that spawned the child exits, so spawn from
// a long-lived thread (yoke: the main thread, which runs the supervisor loop).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace yoke {

struct LaunchSpec {
  std::vector<std::string> argv;                 // argv[0] is looked up in PATH when it has no '/'
  std::map<std::string, std::string> extra_env;  // added to yoke's own environment
  std::filesystem::path working_dir;
  std::filesystem::path stdout_path;  // appended to
  std::filesystem::path stderr_path;
};

struct ExitInfo {
  int exit_code = -1;            // when it exited
  int signal = 0;                // when a signal ended it
  int wait_status = 0;           // as waitpid reported it
  std::string Describe() const;  // "exit code 3", "signal 9 (Killed)"
};

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  virtual pid_t pid() const = 0;
  // Reaps the child if it has ended. Returns how it ended, or nullopt while it runs.
  virtual std::optional<ExitInfo> Poll() = 0;
  // Sends `sig` to the child's whole process group (to the child alone when the launcher does
  // not give it a group). Does nothing once the child is reaped: its pid may name another
  // process by then.
  virtual void Signal(int sig) = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Returns once the program is exec'd. Fails with a readable reason when it cannot be found
  // or executed, or (the real launcher) has not exec'd within its exec deadline: the stuck
  // child is then killed and reaped, and nothing of it is left.
  virtual StatusOr<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) = 0;

  // Takes charge again of a child this process started before it exec'd a new image of yoke
  // (an in-place upgrade keeps the pid, so the child is still ours to signal and reap). Fails
  // unless `pid` is alive, started at `start_ticks` and its parent is this process.
  virtual StatusOr<std::unique_ptr<ChildProcess>> Adopt(pid_t pid, uint64_t start_ticks) {
    (void)pid;
    (void)start_ticks;
    return Fail("this launcher cannot adopt processes");
  }
};

struct LauncherOptions {
  // The exec helper, `yoke-exec`: FindExecHelper() for yoke, the build tree's for tests.
  std::filesystem::path exec_helper;
  // From posix_spawn to the program's exec; past it the child is killed and the start fails.
  std::chrono::milliseconds exec_deadline{2000};
  // Sent to the child when the spawning thread dies; 0 for none.
  int death_signal = SIGTERM;
  // The child leads a process group of its own (an instance); else it stays in ours.
  bool own_process_group = true;
};

// The launcher on posix_spawn and the exec helper. Construct once, in main.
std::unique_ptr<ProcessLauncher> MakeProcessLauncher(LauncherOptions options);

// Where the exec helper of this yoke is: `yoke-exec` next to the running binary (the build
// tree, or an install into one bin folder), else ../libexec/yoke/yoke-exec or
// ../lib/yoke/yoke-exec relative to it (a distribution package: /usr/bin/yoke with
// /usr/libexec/yoke/yoke-exec). Fails with every place it looked when none is executable.
StatusOr<std::filesystem::path> FindExecHelper();

// The start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22), or nullopt
// when no such process exists. A pid plus its start time names one process for good.
std::optional<uint64_t> ProcessStartTicks(pid_t pid);

// The parent of `pid` (/proc/<pid>/stat field 4), or nullopt when no such process exists.
std::optional<pid_t> ParentPid(pid_t pid);

// Stops what is left of a process group whose leader was `pid` with start time `start_ticks`
// (from an earlier supervisor's journal): SIGTERM, then SIGKILL after `grace`. Does nothing
// when the pid now names another process. Returns true when something was signalled.
bool StopStaleProcessGroup(pid_t pid, uint64_t start_ticks, std::chrono::milliseconds grace);

}  // namespace yoke
