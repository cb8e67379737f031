#include "supervisor/cli.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>

#include "base-layout/archive.h"
#include "base-layout/base_folder.h"
#include "base-layout/text_record.h"
#include "core/config_check.h"
#include "supervisor/config_loader.h"
#include "supervisor/health_probe.h"
#include "supervisor/logging.h"
#include "supervisor/process.h"
#include "supervisor/real_clock.h"
#include "supervisor/supervisor.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitLocked = 3;

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

// Loads the config or prints every problem with its file and line.
std::optional<Config> LoadOrReport(const std::string& path) {
  auto config = LoadConfig(path);
  if (!config) {
    std::string text = config.error().message();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::cerr << text << "\n";
    return std::nullopt;
  }
  return *config;
}

int CheckConfigCommand(const std::string& path) {
  auto config = LoadOrReport(path);
  if (!config) return kExitUsage;
  std::cout << path << ": ok (service " << config->service() << ", base " << config->base_dir()
            << ")\n";
  return kExitOk;
}

// Holds an exclusive lock on <base>/state/yoke.lock for the life of the process, so two
// supervisors never share one base.
int LockBase(const BaseFolder& base) {
  fs::path lock_path = base.root() / "state" / "yoke.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return -1;
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::write(fd, pid.data(), pid.size());
  return fd;
}

int RunCommand(const std::string& config_path) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  BaseFolder base(config->base_dir(), IdentifierOf(*config));
  if (auto st = base.Prepare(); !st) {
    std::cerr << "yoke: " << st.error().message() << "\n";
    return kExitFailure;
  }
  int lock_fd = LockBase(base);
  if (lock_fd < 0) {
    std::cerr << "yoke: another yoke supervises " << base.root().string() << " (lock "
              << (base.root() / "state" / "yoke.lock").string() << " is held)\n";
    return kExitLocked;
  }
  SetUpLogging(*config, base.LogPath());
  ::signal(SIGPIPE, SIG_IGN);

  RealClock clock;
  auto launcher = MakeProcessLauncher();
  auto probe = MakeHealthProbe();
  Supervisor supervisor(
      *config, base, SupervisorDeps{&clock, launcher.get(), probe.get(), IsPortFree, HostName()});
  spdlog::info("yoke {} supervising {} in {} (pid {})", YOKE_VERSION_STRING, config->service(),
               base.root().string(), ::getpid());
  if (auto st = supervisor.Start(); !st) {
    spdlog::error("cannot start: {}", st.error().message());
    return kExitFailure;
  }

  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) spdlog::info("signal {} received: stopping", sig);
    io.stop();
  });
  boost::asio::steady_timer timer(io);
  const auto tick = std::chrono::milliseconds(config->tick_ms());
  std::function<void(const boost::system::error_code&)> on_tick =
      [&](const boost::system::error_code& ec) {
        if (ec) return;
        supervisor.Tick();
        timer.expires_after(tick);
        timer.async_wait(on_tick);
      };
  timer.expires_after(std::chrono::milliseconds(0));
  timer.async_wait(on_tick);
  io.run();

  supervisor.Shutdown();
  spdlog::info("yoke stopped");
  ::close(lock_fd);
  return kExitOk;
}

std::string Alive(const InstanceRecord& record) {
  auto ticks = ProcessStartTicks(record.pid());
  if (record.pid() > 0 && record.stopped_at().empty() && ticks && *ticks == record.start_ticks()) {
    return "alive";
  }
  if (!record.exit().empty()) return record.exit();
  return record.stopped_at().empty() ? "gone" : "stopped";
}

int VersionsCommand(const std::string& config_path) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  BaseFolder base(config->base_dir(), IdentifierOf(*config));
  auto running = base.RoleTarget("running");
  auto testing = base.RoleTarget("testing");
  std::cout << "base " << base.root().string() << "\n";
  auto versions = base.ListVersions();
  if (versions.empty()) std::cout << "no versions\n";
  for (const std::string& version : versions) {
    auto artifact = base.ArtifactOf(version);
    std::cout << "version " << version << "  "
              << (artifact ? artifact->filename().string() : "(no artifact)") << "\n";
    for (const fs::path& dir : base.ListInstanceDirs(version)) {
      InstanceRecord record;
      std::string state;
      if (auto st = ReadTextRecord(dir / "instance.txtpb", &record); !st) {
        state = "no record";
      } else {
        state = Alive(record);
      }
      std::string role_mark;
      if (running && fs::equivalent(*running, dir)) role_mark = "  <- running";
      if (testing && fs::equivalent(*testing, dir)) role_mark = "  <- testing";
      std::cout << "  " << dir.filename().string() << "  port " << record.port() << "  pid "
                << record.pid() << "  " << state;
      if (!record.error().empty()) std::cout << "  error: " << record.error();
      std::cout << role_mark << "\n";
    }
  }
  auto archives = base.ListArchives();
  std::cout << "archives (" << archives.size() << ")\n";
  for (const ArchiveInfo& archive : archives) {
    std::cout << "  " << archive.path.filename().string() << "  " << archive.size << " bytes\n";
  }
  return kExitOk;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"yoke: a canary supervisor and traffic splitter for one service on one host"};
  app.set_version_flag("--version", std::string(YOKE_VERSION_STRING));
  app.require_subcommand(1);

  std::string config_path;
  auto* run = app.add_subcommand("run", "Supervise the service in the foreground.");
  run->add_option("--config,-c", config_path, "config file (protobuf text format)")->required();
  run->footer("Example: yoke run --config /etc/yoke/hello.txtpb");

  std::string check_path;
  auto* check = app.add_subcommand("check-config", "Check a config file; exit 0 when valid.");
  check->add_option("file", check_path, "config file")->required();
  check->footer("Example: yoke check-config /etc/yoke/hello.txtpb");

  auto* versions = app.add_subcommand("versions", "List versions, instances and archives.");
  versions->add_option("--config,-c", config_path, "config file")->required();
  versions->footer("Example: yoke versions --config /etc/yoke/hello.txtpb");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*run) return RunCommand(config_path);
  if (*check) return CheckConfigCommand(check_path);
  if (*versions) return VersionsCommand(config_path);
  return kExitUsage;
}

}  // namespace yoke
