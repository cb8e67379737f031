#include "supervisor/process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

// clang-format off
// Boost 1.81 Process v2 with BOOST_PROCESS_USE_STD_FS forgets these includes: they must come
// before its headers.
#include <type_traits>
#include <boost/optional.hpp>
#include <boost/type_traits.hpp>
// clang-format on
#include <boost/asio/io_context.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>
// Process v2 compiled here, once (its header-only mode misses process_environment).
#include <algorithm>
#include <boost/process/v2/src.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace yoke {
namespace bp = boost::process::v2;

std::string ExitInfo::Describe() const {
  if (signal != 0) return "signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "exit code " + std::to_string(exit_code);
}

namespace {

// Runs in the child between fork and exec: its own process group, SIGTERM when the supervisor
// dies, and no descriptor of the supervisor's (its listening sockets above all) left open.
// Only async-signal-safe calls here.
struct ChildSetup {
  pid_t parent;
  template <typename Launcher>
  bp::error_code on_exec_setup(Launcher& launcher, const bp::filesystem::path&,
                               const char* const*) {
    // Boost 1.81's close_all skips the descriptors between stdio and its error pipe (it
    // compares each whitelist entry with itself), so close every gap here.
    auto& keep = launcher.fd_whitelist;
    std::sort(keep.begin(), keep.end());
    int next = 0;
    for (int fd : keep) {
      if (fd > next) ::close_range(static_cast<unsigned>(next), static_cast<unsigned>(fd - 1), 0);
      next = std::max(next, fd + 1);
    }
    ::close_range(static_cast<unsigned>(next), ~0U, 0);
    if (::setpgid(0, 0) != 0) return {errno, bp::system_category()};
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    // The parent died between fork and prctl: nobody would send the signal.
    if (::getppid() != parent) ::_exit(1);
    return {};
  }
};

class BoostChild : public ChildProcess {
 public:
  BoostChild(boost::asio::io_context& io, bp::process process)
      : io_(io), process_(std::move(process)), pid_(process_.id()) {}
  ~BoostChild() override {
    // The supervisor stops children on purpose; the handle must not kill on destruction.
    if (!exit_) process_.detach();
  }

  pid_t pid() const override { return pid_; }

  std::optional<ExitInfo> Poll() override {
    if (exit_) return exit_;
    bp::error_code ec;
    if (process_.running(ec) || ec) return std::nullopt;
    int status = process_.native_exit_code();
    ExitInfo info;
    if (WIFSIGNALED(status)) {
      info.signal = WTERMSIG(status);
    } else {
      info.exit_code = WEXITSTATUS(status);
    }
    exit_ = info;
    return exit_;
  }

  void Signal(int sig) override {
    if (exit_) return;
    ::kill(-pid_, sig);
  }

 private:
  [[maybe_unused]] boost::asio::io_context& io_;
  bp::process process_;
  pid_t pid_;
  std::optional<ExitInfo> exit_;
};

class BoostLauncher : public ProcessLauncher {
 public:
  StatusOr<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) override {
    if (spec.argv.empty()) return Fail("empty command");
    bp::filesystem::path exe = spec.argv[0];
    if (spec.argv[0].find('/') == std::string::npos) {
      exe = bp::environment::find_executable(spec.argv[0]);
      if (exe.empty()) return Fail("'" + spec.argv[0] + "' is not on PATH");
    }
    if (::access(exe.c_str(), X_OK) != 0) {
      return Fail("cannot execute " + exe.string() + ": " + std::strerror(errno));
    }
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view kv(*e);
      if (!spec.extra_env.contains(std::string(kv.substr(0, kv.find('='))))) env.emplace_back(kv);
    }
    for (const auto& [k, v] : spec.extra_env) env.push_back(k + "=" + v);

    int out = ::open(spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int err = ::open(spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0 || err < 0) {
      if (out >= 0) ::close(out);
      if (err >= 0) ::close(err);
      return Fail("cannot open stdout/stderr files in " + spec.working_dir.string());
    }
    std::vector<std::string> args(spec.argv.begin() + 1, spec.argv.end());
    bp::error_code ec;
    // The executor + error_code overload: an exec failure (bad format, missing interpreter)
    // comes back as `ec`. (In Boost 1.81 the io_context overload drops `ec` and throws.)
    bp::process process = bp::default_process_launcher()(
        io_.get_executor(), ec, exe, args, bp::process_start_dir(spec.working_dir),
        bp::process_stdio{nullptr, out, err}, bp::process_environment(env), ChildSetup{::getpid()});
    ::close(out);
    ::close(err);
    if (ec) return Fail("cannot start " + exe.string() + ": " + ec.message());
    return std::unique_ptr<ChildProcess>(new BoostChild(io_, std::move(process)));
  }

 private:
  boost::asio::io_context io_;
};

}  // namespace

std::unique_ptr<ProcessLauncher> MakeProcessLauncher() { return std::make_unique<BoostLauncher>(); }

std::optional<uint64_t> ProcessStartTicks(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
  }
  return std::stoull(field);
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
