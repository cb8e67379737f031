// The real launcher and its children. Over 500 lines because the launcher (posix_spawn and the
// exec helper's report), the child (session-wide signals, exit read with WNOWAIT) and the
// orphan reaper share one registry of tracked children and its lock.
#include "platform/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

extern char** environ;

namespace yoke {

namespace fs = std::filesystem;

std::string ExitInfo::Describe() const {
  if (unknown) return "an unknown status (reaped elsewhere)";
  if (signal != 0) return "signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exit code " + std::to_string(exit_code);
}

namespace {

using Clock = std::chrono::steady_clock;

// The child's descriptors: 0-2 stdio, 3 the report pipe to the exec helper; 4 and up closed.
constexpr int kReportFd = 3;
constexpr int kFirstClosedFd = 4;
// How long a killed or failed helper may take to be reaped before the launcher stops waiting.
constexpr auto kReapWait = std::chrono::milliseconds(2000);

// Keep in step with the steps of platform/exec_helper.cc.
constexpr int kStepExec = 4;
const char* ExecStepName(int step) {
  switch (step) {
    case 1:
      return "exec helper arguments";
    case 2:
      return "prctl(PR_SET_PDEATHSIG)";
    case 3:
      return "fcntl(FD_CLOEXEC) on the report pipe";
    default:
      return "exec";
  }
}

// A descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Moves `fd` to kFirstClosedFd or above (close-on-exec), so that the dup2 actions onto 0-3
// never overwrite a source they still need, whatever descriptors yoke itself has open.
bool MoveAboveChildFds(Fd& fd) {
  if (fd.get() >= kFirstClosedFd) return true;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, kFirstClosedFd);
  if (moved < 0) return false;
  fd.Reset(moved);
  return true;
}

// How waitid described an exit, also as the wait status waitpid would have given.
ExitInfo ExitInfoOf(const siginfo_t& info) {
  ExitInfo exit;
  if (info.si_code == CLD_EXITED) {
    exit.exit_code = info.si_status;
    exit.wait_status = (info.si_status & 0xff) << 8;
  } else {
    exit.signal = info.si_status;
    exit.wait_status = (info.si_status & 0x7f) | (info.si_code == CLD_DUMPED ? 0x80 : 0);
  }
  return exit;
}

// The pids of this process's children that a ChildProcess tracks (leaders and adopted main
// processes, until reaped), shared by every launcher of the process: ReapOrphans reaps only
// children that are not here. The mutex is held across posix_spawn and its registration, and
// across ReapOrphans' check and reap, so a fresh child is never taken for an orphan.
struct Tracked {
  std::mutex mu;
  std::set<pid_t> pids;  // GUARDED_BY(mu)
};
Tracked& TrackedChildren() {
  static Tracked* tracked = new Tracked();  // never destroyed: children may outlive main
  return *tracked;
}
void Untrack(pid_t pid) {
  std::lock_guard lock(TrackedChildren().mu);
  TrackedChildren().pids.erase(pid);
}

// The children of this process: /proc/self/task/<tid>/children of every thread (a child
// belongs to the thread that forked it, and orphans to the main thread).
std::vector<pid_t> ChildrenOfThisProcess() {
  std::vector<pid_t> children;
  DIR* tasks = ::opendir("/proc/self/task");
  if (!tasks) return children;
  while (dirent* d = ::readdir(tasks)) {
    if (d->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + d->d_name + "/children");
    for (long pid; in >> pid;) children.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(tasks);
  return children;
}

// Reaps `pid` if it ends within `wait`; a bounded loop, never a blocking waitpid.
bool ReapWithin(pid_t pid, std::chrono::milliseconds wait) {
  auto deadline = Clock::now() + wait;
  while (true) {
    pid_t got = ::waitpid(pid, nullptr, WNOHANG);
    if (got == pid || (got < 0 && errno != EINTR)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The first executable `name` on $PATH, or empty.
fs::path FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / name;
    std::error_code ec;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate, ec)) {
      return candidate;
    }
    if (colon == std::string_view::npos) return {};
    dirs.remove_prefix(colon + 1);
  }
}

// posix_spawn's attribute and file-action objects, destroyed on scope exit.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

class SpawnedChild : public ChildProcess {
 public:
  SpawnedChild(pid_t pid, bool own_session) : leader_(pid), main_(pid), own_session_(own_session) {
    if (own_session_) sessions_.push_back(pid);
  }
  // The supervisor stops children on purpose; dropping the handle neither kills nor waits. It
  // only reaps what has already exited, so no zombie is left behind.
  // A process still running is untracked, so ReapOrphans reaps it once it exits.
  ~SpawnedChild() override {
    for (pid_t pid : {leader_, main_}) {
      if (reaped_.contains(pid)) continue;
      siginfo_t info{};
      ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
      MarkReaped(pid);
    }
  }

  pid_t pid() const override { return main_; }

  std::optional<ExitInfo> Poll() override {
    if (exit_) return exit_;
    if (reaped_.contains(main_)) {
      exit_ = ExitInfo{.unknown = true};
      return exit_;
    }
    siginfo_t info{};
    // An instance's leader is left a zombie (WNOWAIT) until nothing of it is left: see Gone.
    int flags = WEXITED | WNOHANG | (own_session_ ? WNOWAIT : 0);
    if (::waitid(P_PID, static_cast<id_t>(main_), &info, flags) != 0) {
      if (errno == EINTR) return std::nullopt;
      // ECHILD: something else reaped it (an inherited SIG_IGN of SIGCHLD, a waitpid(-1)); it
      // has ended all the same, never "still running".
      MarkReaped(main_);
      exit_ = ExitInfo{.unknown = true};
      return exit_;
    }
    if (info.si_pid == 0) return std::nullopt;  // still running
    exit_ = ExitInfoOf(info);
    if (!own_session_) MarkReaped(main_);
    return exit_;
  }

  void Signal(int sig) override {
    if (!own_session_) {
      if (!reaped_.contains(main_)) ::kill(main_, sig);
      return;
    }
    // The leader's group first: its id cannot be reused while the leader is not reaped.
    if (!reaped_.contains(leader_)) ::kill(-leader_, sig);
    for (const ProcStat& p : ProcessesInSessions(sessions_)) {
      if (p.group == leader_ && !reaped_.contains(leader_)) continue;  // signalled above
      ::kill(p.pid, sig);
    }
  }

  bool Gone() override {
    if (!Poll()) return false;
    if (own_session_ && !ProcessesInSessions(sessions_).empty()) return false;
    for (pid_t pid : {leader_, main_}) {
      if (reaped_.contains(pid)) continue;
      siginfo_t info{};
      ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
      MarkReaped(pid);
    }
    return true;
  }

  Status Adopt(pid_t pid) override {
    if (!own_session_) return Fail("a child without a session of its own adopts nothing");
    if (pid <= 1 || pid == main_) return Fail("pid " + std::to_string(pid) + " cannot be adopted");
    auto stat = ReadProcStat(pid);
    if (!stat || stat->state == 'Z') return Fail("no live process " + std::to_string(pid));
    if (stat->ppid != ::getpid()) {
      return Fail("process " + std::to_string(pid) + " is not a child of yoke (its parent is " +
                  std::to_string(stat->ppid) + "), so it is not this instance's");
    }
    {
      std::lock_guard lock(TrackedChildren().mu);
      if (!TrackedChildren().pids.insert(pid).second) {
        return Fail("process " + std::to_string(pid) + " belongs to another instance");
      }
    }
    // The old main process is left a zombie (when it is the leader) until Gone.
    main_ = pid;
    exit_.reset();
    if (std::find(sessions_.begin(), sessions_.end(), stat->session) == sessions_.end()) {
      sessions_.push_back(stat->session);
    }
    return Ok();
  }

  std::vector<pid_t> Sessions() const override { return sessions_; }

 private:
  void MarkReaped(pid_t pid) {
    reaped_.insert(pid);
    Untrack(pid);
  }

  const pid_t leader_;
  pid_t main_;
  const bool own_session_;
  std::vector<pid_t> sessions_;
  std::set<pid_t> reaped_;  // reaped, or found reaped by someone else: never signalled again
  std::optional<ExitInfo> exit_;
};

class SpawnLauncher : public ProcessLauncher {
 public:
  explicit SpawnLauncher(LauncherOptions options) : options_(std::move(options)) {}

  StatusOr<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) override {
    if (spec.argv.empty()) return Fail("empty command");
    fs::path exe = spec.argv[0];
    if (spec.argv[0].find('/') == std::string::npos) {
      exe = FindOnPath(spec.argv[0]);
      if (exe.empty()) return Fail("'" + spec.argv[0] + "' is not on PATH");
    }
    if (::access(exe.c_str(), X_OK) != 0) {
      return Fail("cannot execute " + exe.string() + ": " + std::strerror(errno));
    }

    // Everything the child needs is built here, in the parent: after posix_spawn's clone only
    // glibc's own code runs until the helper's exec.
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view kv(*e);
      const std::string key(kv.substr(0, kv.find('=')));
      // systemd's notify socket and watchdog are yoke's (platform/systemd_notify.h), not the
      // instance's: an instance that notifies would speak for yoke.
      if (key == "NOTIFY_SOCKET" || key == "WATCHDOG_USEC" || key == "WATCHDOG_PID") continue;
      if (!spec.extra_env.contains(key)) env.emplace_back(kv);
    }
    for (const auto& [k, v] : spec.extra_env) env.push_back(k + "=" + v);
    // yoke-exec REPORT_FD PARENT_PID DEATH_SIGNAL PROGRAM ARGV0 [ARG...]; argv[0] is the
    // program's path, as ps showed it before.
    std::vector<std::string> args = {options_.exec_helper.string(),
                                     std::to_string(kReportFd),
                                     std::to_string(::getpid()),
                                     std::to_string(options_.death_signal),
                                     exe.string(),
                                     exe.string()};
    args.insert(args.end(), spec.argv.begin() + 1, spec.argv.end());
    std::vector<char*> argv_ptrs, env_ptrs;
    for (auto& a : args) argv_ptrs.push_back(a.data());
    argv_ptrs.push_back(nullptr);
    for (auto& e : env) env_ptrs.push_back(e.data());
    env_ptrs.push_back(nullptr);

    Fd out(::open(spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    Fd err(::open(spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (out.get() < 0 || err.get() < 0) {
      return Fail("cannot open " + (out.get() < 0 ? spec.stdout_path : spec.stderr_path).string() +
                  ": " + std::strerror(errno));
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return Fail(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    Fd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
    if (!MoveAboveChildFds(out) || !MoveAboveChildFds(err) || !MoveAboveChildFds(report_write)) {
      return Fail(std::string("cannot move descriptors: ") + std::strerror(errno));
    }

    SpawnSetup setup;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    // setsid makes the child the leader of a new session and of a new process group.
    if (options_.own_process_group) flags |= POSIX_SPAWN_SETSID;
    int rc = ::posix_spawnattr_setflags(&setup.attr, flags);
    if (rc == 0) rc = ::posix_spawnattr_setsigmask(&setup.attr, &none);
    if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&setup.attr, &all);
    auto* actions = &setup.actions;
    if (rc == 0) rc = ::posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(actions, out.get(), 1);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(actions, err.get(), 2);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(actions, report_write.get(), kReportFd);
    if (rc == 0 && !spec.working_dir.empty()) {
      rc = ::posix_spawn_file_actions_addchdir_np(actions, spec.working_dir.c_str());
    }
    // No descriptor of yoke's (its listening sockets above all) reaches the child: one held by
    // an instance would outlive yoke and swallow its connections.
    if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(actions, kFirstClosedFd);
    if (rc != 0) return Fail(std::string("cannot set up posix_spawn: ") + std::strerror(rc));

    const auto started = Clock::now();
    pid_t pid = -1;
    {
      std::lock_guard lock(TrackedChildren().mu);
      rc = ::posix_spawn(&pid, options_.exec_helper.c_str(), actions, &setup.attr, argv_ptrs.data(),
                         env_ptrs.data());
      if (rc == 0) TrackedChildren().pids.insert(pid);
    }
    out.Reset();
    err.Reset();
    report_write.Reset();  // else the pipe never reaches end of file
    if (rc != 0) {
      return Fail("cannot start " + exe.string() + " in " + spec.working_dir.string() +
                  " (through " + options_.exec_helper.string() + "): " + std::strerror(rc));
    }
    auto reported = AwaitExec(pid, report_read.get(), started, exe);
    if (!reported) {
      Untrack(pid);  // reaped, or left for ReapOrphans
      return std::unexpected(reported.error());
    }
    return std::unique_ptr<ChildProcess>(new SpawnedChild(pid, options_.own_process_group));
  }

  StatusOr<std::unique_ptr<ChildProcess>> Adopt(pid_t pid, uint64_t start_ticks) override {
    auto ticks = ProcessStartTicks(pid);
    if (!ticks) return Fail("pid " + std::to_string(pid) + " is gone");
    if (*ticks != start_ticks) {
      return Fail("pid " + std::to_string(pid) + " names another process now (started at tick " +
                  std::to_string(*ticks) + ", not " + std::to_string(start_ticks) + ")");
    }
    auto parent = ParentPid(pid);
    if (!parent || *parent != ::getpid()) {
      return Fail("pid " + std::to_string(pid) + " is not a child of this process (parent " +
                  (parent ? std::to_string(*parent) : std::string("unknown")) + ")");
    }
    {
      std::lock_guard lock(TrackedChildren().mu);
      TrackedChildren().pids.insert(pid);  // ours again: ReapOrphans leaves it alone
    }
    return std::unique_ptr<ChildProcess>(new SpawnedChild(pid, options_.own_process_group));
  }

  // Waits for the helper's report: end of file once the program is exec'd, {step, errno} when
  // a step failed. Kills and reaps the helper when it fails or is silent past the deadline.
  Status AwaitExec(pid_t pid, int report_fd, Clock::time_point started, const fs::path& exe) {
    const auto deadline = started + options_.exec_deadline;
    int message[2] = {0, 0};
    size_t got = 0;
    while (true) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{report_fd, POLLIN, 0};
      int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;  // the deadline passed (or poll failed): the helper is stuck
      ssize_t n = ::read(report_fd, reinterpret_cast<char*>(message) + got, sizeof message - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (got == 0) return Ok();  // closed on exec: the program runs
        break;                      // a torn report: treat as stuck
      }
      got += static_cast<size_t>(n);
      if (got == sizeof message) {
        ReapOrKill(pid);
        if (message[0] == kStepExec) {
          return Fail("cannot exec " + exe.string() + ": " + std::strerror(message[1]));
        }
        return Fail("cannot start " + exe.string() + ": " + ExecStepName(message[0]) +
                    " failed: " + std::strerror(message[1]));
      }
    }
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    ::kill(options_.own_process_group ? -pid : pid, SIGKILL);
    bool reaped = ReapWithin(pid, kReapWait);
    return Fail(exe.string() + " did not exec within " +
                std::to_string(options_.exec_deadline.count()) +
                " ms (stuck between spawn and exec after " + std::to_string(waited.count()) +
                " ms); killed pid " + std::to_string(pid) + (reaped ? "" : ", not reaped yet"));
  }

  // The helper exits right after reporting; if it has not within kReapWait, kill it.
  void ReapOrKill(pid_t pid) {
    if (ReapWithin(pid, kReapWait)) return;
    ::kill(options_.own_process_group ? -pid : pid, SIGKILL);
    ReapWithin(pid, kReapWait);
  }

  std::vector<OrphanProcess> ReapOrphans() override {
    std::vector<OrphanProcess> live;
    for (pid_t pid : ChildrenOfThisProcess()) {
      std::lock_guard lock(TrackedChildren().mu);
      if (TrackedChildren().pids.contains(pid)) continue;
      // Our child, not tracked: its pid stays ours until reaped here, so reading and reaping
      // it by pid is safe.
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) == 0 &&
          info.si_pid == pid) {
        continue;  // an exited orphan, reaped
      }
      auto stat = ReadProcStat(pid);
      if (!stat) continue;
      OrphanProcess orphan{pid, stat->session, stat->group, stat->start_ticks, {}};
      std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
      std::getline(comm, orphan.name);
      live.push_back(std::move(orphan));
    }
    return live;
  }

 private:
  LauncherOptions options_;
};

}  // namespace

std::unique_ptr<ProcessLauncher> MakeProcessLauncher(LauncherOptions options) {
  return std::make_unique<SpawnLauncher>(std::move(options));
}

StatusOr<fs::path> FindExecHelper() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return Fail("cannot read /proc/self/exe: " + ec.message());
  fs::path dir = self.parent_path();
  std::string looked;
  for (const fs::path& candidate :
       {dir / "yoke-exec", dir / "../libexec/yoke/yoke-exec", dir / "../lib/yoke/yoke-exec"}) {
    fs::path normal = candidate.lexically_normal();
    if (::access(normal.c_str(), X_OK) == 0) return normal;
    looked += (looked.empty() ? "" : ", ") + normal.string();
  }
  return Fail("cannot find the exec helper yoke-exec (looked at " + looked + ")");
}

Status BecomeChildSubreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return Fail(std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + std::strerror(errno));
  }
  return Ok();
}

void ResetSignalDispositions(const sigset_t& held) {
  // What a process inherits across exec is only "ignored" or "default" (handlers are reset by
  // exec), so an ignored signal is put back to its default. A handler found here was installed
  // by this process itself (a sanitizer's runtime, before main) and is left alone.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction current {};
    // SIGKILL and SIGSTOP cannot be changed, nor glibc's internal 32 and 33 (EINVAL).
    if (sigismember(&held, sig) == 1) continue;
    if (::sigaction(sig, nullptr, &current) != 0 || current.sa_handler != SIG_IGN) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
  }
  ::pthread_sigmask(SIG_SETMASK, &held, nullptr);
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  ProcStat stat;
  stat.pid = pid;
  std::string field;
  // Fields 3 state, 4 ppid, 5 pgrp, 6 session, ..., 22 starttime.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
    char* end = nullptr;
    unsigned long long value = std::strtoull(field.c_str(), &end, 10);
    switch (i) {
      case 3:
        stat.state = field.empty() ? '?' : field[0];
        break;
      case 4:
        stat.ppid = static_cast<pid_t>(value);
        break;
      case 5:
        stat.group = static_cast<pid_t>(value);
        break;
      case 6:
        stat.session = static_cast<pid_t>(value);
        break;
      case 22:
        if (*end != '\0') return std::nullopt;
        stat.start_ticks = value;
        break;
      default:
        break;
    }
  }
  return stat;
}

std::vector<ProcStat> ProcessesInSessions(const std::vector<pid_t>& sessions) {
  std::vector<ProcStat> found;
  if (sessions.empty()) return found;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  // Bounded by the number of entries in /proc.
  while (dirent* d = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(d->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    auto stat = ReadProcStat(static_cast<pid_t>(pid));
    if (!stat || stat->state == 'Z') continue;
    if (std::find(sessions.begin(), sessions.end(), stat->session) != sessions.end()) {
      found.push_back(*stat);
    }
  }
  ::closedir(proc);
  return found;
}

std::optional<uint64_t> ProcessStartTicks(pid_t pid) {
  auto stat = ReadProcStat(pid);
  if (!stat) return std::nullopt;
  return stat->start_ticks;
}

std::optional<pid_t> ParentPid(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  long long parent = 0;
  if (!(rest >> state >> parent)) return std::nullopt;
  return static_cast<pid_t>(parent);
}

bool StopStaleProcessGroup(pid_t pid, uint64_t start_ticks, std::chrono::milliseconds grace) {
  if (pid <= 1) return false;
  auto ticks = ProcessStartTicks(pid);
  // The leader is alive but is another process now: the pid was reused. Leave it alone.
  if (ticks && *ticks != start_ticks) return false;
  // Leader gone: Linux never hands out a pid still in use as a process group id, so a group
  // `pid` that still exists is the old instance's.
  if (::kill(-pid, 0) != 0) return false;
  ::kill(-pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(-pid, 0) != 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid, SIGKILL);
  return true;
}

}  // namespace yoke
