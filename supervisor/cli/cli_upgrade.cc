#include "supervisor/cli/cli_upgrade.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>

#include "base-layout/paths.h"
#include "core/record_text.h"
#include "proto/yoke/status.pb.h"
#include "supervisor/cli/cli_common.h"

namespace yoke {
namespace {

// The pid of the yoke that holds the base's lock; an error when none does.
StatusOr<pid_t> LockHolder(const std::filesystem::path& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return Fail("no yoke supervises this base (cannot open " + lock_path.string() + ": " +
                std::strerror(errno) + ")");
  }
  // A lock we can take is a lock nobody holds.
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return Fail("no yoke supervises this base (" + lock_path.string() + " is not locked)");
  }
  char text[32] = {};
  ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  long pid = n > 0 ? std::strtol(text, nullptr, 10) : 0;
  if (pid <= 1) return Fail(lock_path.string() + " does not hold a pid");
  return static_cast<pid_t>(pid);
}

// /status's image part, or why it could not be read.
StatusOr<ImageStatus> ReadImage(const std::string& admin_listen) {
  AdminCall call = CallAdmin(admin_listen, "GET", "/status", {}, {}, std::chrono::seconds(2));
  if (call.outcome != AdminCall::Outcome::kAnswered) {
    return Fail("no answer from the admin API at " + call.where + ": " + call.error);
  }
  if (call.status != 200) {
    return Fail("the admin API at " + call.where + " answered HTTP " + std::to_string(call.status));
  }
  StatusReport report;
  YOKE_RETURN_IF_ERROR(ParseJsonRecord("/status", call.body, &report));
  if (!report.has_image()) return Fail("/status at " + call.where + " says nothing of its image");
  return report.image();
}

int UpgradeCommand(const std::string& config_path, int timeout_s) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  const auto lock_path = base_paths::Lock(config->base_dir());
  auto pid = LockHolder(lock_path);
  if (!pid) {
    std::cerr << "yoke upgrade: " << pid.error().message() << "\n";
    return kExitFailure;
  }
  auto before = ReadImage(config->admin_listen());
  if (!before) {
    std::cerr << "yoke upgrade: " << before.error().message() << "\n";
    return kExitFailure;
  }
  if (before->pid() != *pid) {
    std::cerr << "yoke upgrade: the base's lock names pid " << *pid << " but the admin API at "
              << config->admin_listen() << " is pid " << before->pid()
              << "; not signalling either\n";
    return kExitFailure;
  }
  if (::kill(*pid, SIGUSR2) != 0) {
    std::cerr << "yoke upgrade: cannot signal pid " << *pid << ": " << std::strerror(errno) << "\n";
    return kExitFailure;
  }
  std::cout << "sent SIGUSR2 to yoke pid " << *pid << " (image started " << before->started_at()
            << "); waiting for the new image\n";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string last_problem;
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = ReadImage(config->admin_listen());
    if (now && now->started_at() != before->started_at()) {
      if (now->pid() != *pid) {
        std::cerr << "yoke upgrade: a yoke with another pid (" << now->pid()
                  << ") answers now: the old one stopped instead of upgrading\n";
        return kExitFailure;
      }
      std::cout << "upgraded: yoke pid " << now->pid() << " runs a new image (yoke "
                << now->yoke_version() << ", started " << now->started_at() << ")\n";
      return kExitOk;
    }
    if (now && now->last_upgrade_error() != before->last_upgrade_error() &&
        !now->last_upgrade_error().empty()) {
      std::cerr << "yoke upgrade: failed, yoke pid " << *pid
                << " still runs the old image: " << now->last_upgrade_error() << "\n";
      return kExitFailure;
    }
    if (!now) last_problem = now.error().message();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling, bounded above
  }
  std::cerr << "yoke upgrade: no new image answered within " << timeout_s << " s"
            << (last_problem.empty() ? "" : " (last: " + last_problem + ")") << "\n";
  return kExitFailure;
}

}  // namespace

std::function<std::optional<int>()> AddUpgradeCommand(CLI::App& app) {
  struct Options {
    std::string config_path;
    int timeout_s = 60;
    CLI::App* cmd = nullptr;
  };
  auto o = std::make_shared<Options>();
  o->cmd = app.add_subcommand(
      "upgrade",
      "Upgrade the running yoke in place: it execs the binary at its own path (same pid), keeps "
      "its sockets and instances; waits until the new image answers /status.");
  o->cmd->add_option("--config,-c", o->config_path, "config file")->required();
  o->cmd->add_option("--timeout", o->timeout_s, "seconds to wait for the new image (default 60)")
      ->check(CLI::Range(1, 3600));
  o->cmd->footer("Example: yoke upgrade --config /etc/yoke/hello.txtpb");
  return [o]() -> std::optional<int> {
    if (!*o->cmd) return std::nullopt;
    return UpgradeCommand(o->config_path, o->timeout_s);
  };
}

}  // namespace yoke
