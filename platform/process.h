// Child processes: the launcher interface the supervisor starts instances through, and the
// real one. A child leads a session and process group of its own (so a stop reaches every
// process it forked) and gets SIGTERM when the supervisor dies (parent-death signal).
//
// Containment (issue 12). An instance is its session: everything it forks stays in it unless it
// calls setsid() itself, and nothing of it may outlive it.
//  - yoke is a child subreaper (BecomeChildSubreaper): what an instance leaves behind when a
//    process of it dies (nginx's workers when their master is killed, `sleep &` of a shell that
//    exited) is reparented to yoke, not to init.
//  - The leader's exit is read without reaping it (waitid WNOWAIT): while its zombie is kept,
//    its pid, which is the session and process group id, names no other process, so signalling
//    the group after the leader died can never reach a stranger.
//  - Signal reaches every live process of the instance's sessions (found in /proc), also after
//    the leader has exited; Gone() is true only when none is left, and then reaps the leader.
//  - A service that daemonizes (forks, setsid, the parent exits: nginx `daemon on`) names its
//    main process in a pid file; the supervisor then Adopt()s it: its exit becomes the
//    instance's and its session part of the instance.
//  - ReapOrphans reaps every exited child of yoke that no ChildProcess tracks, each by its
//    pid (never waitpid(-1), which would take a tracked instance's exit status), and lists the
//    live ones, so the supervisor can stop those no instance claims.
// The cgroup v2 tree is not used: where yoke runs it is rarely delegated to it (on the
// development host it is a hybrid v1/v2 mount yoke may not write). docs/operations.md says
// what this does not catch.
//
// How a child starts. yoke is multi-threaded (proxy, admin API, meta, spdlog), so no code of
// ours runs in a forked copy of it: a lock another thread held at the fork (the sanitizer's
// allocator, spdlog's, Boost's, ours) would be held forever in the child, which then spins or
// blocks between fork and exec and outlives everything. The real launcher calls glibc's
// posix_spawn, whose child (clone(CLONE_VM|CLONE_VFORK) on its own stack) runs only glibc's
// async-signal-safe steps, set up here as attributes and file actions:
//   sigprocmask (POSIX_SPAWN_SETSIGMASK, empty mask), sigaction(SIG_DFL) for every signal
//   (POSIX_SPAWN_SETSIGDEF: a child never inherits yoke's SIG_IGN of SIGPIPE), setsid()
//   (POSIX_SPAWN_SETSID: a session and process group of its own), open("/dev/null") as stdin, dup2
//   of the stdout/stderr files (opened O_APPEND|O_CLOEXEC here, in the parent) and of the report
//   pipe to fd 3, chdir (posix_spawn_file_actions_addchdir_np), close_range(4, ~0)
//   (addclosefrom_np), execve.
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
  int wait_status = 0;           // as waitpid would report it
  bool unknown = false;          // reaped by someone else (ECHILD): it ended, how is unknown
  std::string Describe() const;  // "exit code 3", "signal 9 (Killed)"
};

// A child of this process that no ChildProcess tracks: an orphan reparented to yoke.
struct OrphanProcess {
  pid_t pid = 0;
  pid_t session = 0;
  pid_t group = 0;
  uint64_t start_ticks = 0;
  std::string name;  // /proc/<pid>/comm
};

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  // The main process: the leader, or the process adopted from a pid file.
  virtual pid_t pid() const = 0;
  // How the main process ended, or nullopt while it runs. An instance's leader is not reaped
  // here (see Gone); a child without a session of its own is.
  virtual std::optional<ExitInfo> Poll() = 0;
  // Sends `sig` to every live process of the child's sessions, also after the main process has
  // exited (to the child alone when the launcher gives it no session). Never reaches a process
  // of another session.
  virtual void Signal(int sig) = 0;
  // True once the main process has exited and no process of the child's sessions is left; the
  // leader (and an adopted main process) is reaped then. An instance counts as stopped only
  // when this holds.
  virtual bool Gone() { return Poll().has_value(); }
  // Makes `pid`, named by the instance's pid file after its leader exited, the main process:
  // its exit becomes the child's and its session part of the child. REQUIRES: the leader has
  // exited. Fails, changing nothing, unless `pid` is a live child of this process (a daemon's
  // orphan comes back to yoke, the subreaper) that no other ChildProcess tracks.
  virtual Status Adopt(pid_t pid) { return Fail("cannot adopt pid " + std::to_string(pid)); }
  // The sessions whose processes belong to the child (empty without a session of its own).
  virtual std::vector<pid_t> Sessions() const { return {}; }
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Returns once the program is exec'd. Fails with a readable reason when it cannot be found
  // or executed, or (the real launcher) has not exec'd within its exec deadline: the stuck
  // child is then killed and reaped, and nothing of it is left.
  virtual StatusOr<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) = 0;
  // Reaps every exited child of this process that no ChildProcess tracks (by its pid, never
  // waitpid(-1)) and returns the live ones. Children are listed from
  // /proc/self/task/*/children.
  virtual std::vector<OrphanProcess> ReapOrphans() { return {}; }

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
  // The child leads a session and process group of its own (an instance: setsid); else it
  // stays in ours and is signalled and reaped alone.
  bool own_process_group = true;
};

// The launcher on posix_spawn and the exec helper. Construct once, in main.
std::unique_ptr<ProcessLauncher> MakeProcessLauncher(LauncherOptions options);

// Where the exec helper of this yoke is: `yoke-exec` next to the running binary (the build
// tree, or an install into one bin folder), else ../libexec/yoke/yoke-exec or
// ../lib/yoke/yoke-exec relative to it (a distribution package: /usr/bin/yoke with
// /usr/libexec/yoke/yoke-exec). Fails with every place it looked when none is executable.
StatusOr<std::filesystem::path> FindExecHelper();

// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER): orphans of its
// descendants are reparented to it instead of init. Call once at start.
Status BecomeChildSubreaper();

// Puts every ignored signal but those in `held` back to its default, and sets this thread's mask
// to `held`: run at start, before any thread exists, so that nothing inherited (an ignored
// SIGCHLD above all, which makes the kernel reap children itself) changes how yoke sees its
// children. The `held` signals are blocked, not reset: ones that arrive wait until the loop
// handles them (an upgraded image inherits them ignored, and a default action would end it).
// Only "ignored" and "default" survive an exec, so a handler found here is this process's own
// (a sanitizer's) and is kept.
void ResetSignalDispositions(const sigset_t& held);

// One line of /proc/<pid>/stat.
struct ProcStat {
  pid_t pid = 0;
  char state = '?';  // 'Z' for a zombie
  pid_t ppid = 0;
  pid_t group = 0;
  pid_t session = 0;
  uint64_t start_ticks = 0;
};
std::optional<ProcStat> ReadProcStat(pid_t pid);

// Live (not zombie) processes whose session is one of `sessions`, from a scan of /proc.
std::vector<ProcStat> ProcessesInSessions(const std::vector<pid_t>& sessions);

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
