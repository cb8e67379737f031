// `yoke run` and `yoke proxy`: the composition root. Over 500 lines because RunDaemon's order is
// the point (inherited sockets before any thread, signals blocked, meta before the admin API
// that reads it, an upgrade's drain and exec undone in reverse when it fails); the next step is
// a Daemon class with one method a stage.
#include "supervisor/run.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fstream>
#include <future>
#include <iostream>

#include "base-layout/admin_token.h"
#include "base-layout/base_folder.h"
#include "base-layout/decision_log.h"
#include "base-layout/text_record.h"
#include "core/address.h"
#include "core/config_check.h"
#include "core/config_reload.h"
#include "core/config_settings.h"
#include "core/evidence_window.h"
#include "meta/sync.h"
#include "platform/health_probe.h"
#include "platform/listen_fds.h"
#include "platform/logging.h"
#include "platform/posix_env.h"
#include "platform/process.h"
#include "platform/process_metrics.h"
#include "platform/real_clock.h"
#include "platform/systemd_notify.h"
#include "proxy/proxy.h"
#include "supervisor/admin/admin_api.h"
#include "supervisor/admin/history_report.h"
#include "supervisor/admin/status_report.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/config_loader.h"
#include "supervisor/daemon/supervisor.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

proxy::ProxyOptions ProxyOptionsFrom(const Config& config) {
  const auto& p = config.proxy();
  const auto& m = config.mirror();
  proxy::ProxyOptions o;
  o.threads = p.threads();
  o.max_header_bytes = p.max_header_bytes();
  o.max_body_bytes = p.max_body_bytes();
  o.client_timeout = std::chrono::milliseconds(p.client_timeout_ms());
  o.connect_timeout = std::chrono::milliseconds(p.connect_timeout_ms());
  o.upstream_timeout = std::chrono::milliseconds(p.upstream_timeout_ms());
  o.max_idle_per_upstream = p.max_idle_per_upstream();
  // Checked by CheckConfig before this runs: a bad entry never gets here.
  if (auto peers = TrustedPeers::Parse({p.trusted_proxies().begin(), p.trusted_proxies().end()})) {
    o.trusted_proxies = *peers;
  }
  o.max_connections = p.max_connections();
  o.route_patterns.assign(p.routes().begin(), p.routes().end());
  o.mirror = MirrorPolicyFrom(m);
  return o;
}

// What SIGUSR2 and SIGHUP do under `yoke run`; null: they are ignored.
struct DaemonSignals {
  std::function<void()> upgrade;  // SIGUSR2
  std::function<void()> reload;   // SIGHUP
};

// Blocks until SIGINT or SIGTERM, calling `tick` every `period` meanwhile (if given), and the
// handlers of `on` (on this thread, between ticks) for SIGUSR2 and SIGHUP.
void RunUntilSignal(std::chrono::milliseconds period, const std::function<void()>& tick,
                    const DaemonSignals& on = {}) {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::signal_set requests(io, SIGUSR2, SIGHUP);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) spdlog::info("signal {} received: stopping", sig);
    io.stop();
  });
  std::function<void(const boost::system::error_code&, int)> on_request =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGUSR2 && on.upgrade) {
          on.upgrade();
        } else if (sig == SIGHUP && on.reload) {
          on.reload();
        } else {
          spdlog::info("signal {} ignored here", sig);
        }
        requests.async_wait(on_request);
      };
  requests.async_wait(on_request);
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGUSR2);
  sigaddset(&handled, SIGHUP);
  ::pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);
  boost::asio::steady_timer timer(io);
  std::function<void(const boost::system::error_code&)> on_tick =
      [&](const boost::system::error_code& ec) {
        if (ec) return;
        if (tick) tick();
        timer.expires_after(period);
        timer.async_wait(on_tick);
      };
  timer.expires_after(std::chrono::milliseconds(0));
  timer.async_wait(on_tick);
  io.run();
}

// The binary this process runs, as a path to exec again for an upgrade: /proc/self/exe, without
// the " (deleted)" the kernel adds once a package upgrade has replaced the file.
StatusOr<fs::path> SelfPath() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return Fail("cannot read /proc/self/exe: " + ec.message());
  std::string text = self.string();
  constexpr std::string_view kDeleted = " (deleted)";
  if (text.ends_with(kDeleted)) text.resize(text.size() - kDeleted.size());
  return fs::path(text);
}

std::string NowText() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  return FormatUtc(now, "%Y-%m-%dT%H:%M:%S") + fmt::format(".{:03}Z", ms.count());
}

// Runs `binary --version` and waits for it (at most 5 s): an upgrade execs only a binary that
// starts, runs and exits 0. An exec that fails leaves yoke as it was; a binary that the kernel
// loads but that crashes at once would take the process (and its instances) down with it.
Status CheckNewImage(ProcessLauncher& launcher, const fs::path& binary, const fs::path& dir) {
  if (::access(binary.c_str(), X_OK) != 0) {
    return Fail("the binary " + binary.string() + " is not executable: " + std::strerror(errno));
  }
  LaunchSpec spec;
  spec.argv = {binary.string(), "--version"};
  spec.working_dir = dir;
  spec.stdout_path = dir / "upgrade-check.out";
  spec.stderr_path = dir / "upgrade-check.out";
  ::unlink(spec.stdout_path.c_str());
  auto child = launcher.Launch(spec);
  if (!child) return Fail(binary.string() + " --version: " + child.error().message());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::optional<ExitInfo> exit;
  while (!(exit = (*child)->Poll()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!exit) {
    (*child)->Signal(SIGKILL);
    for (int i = 0; i < 100 && !(*child)->Poll(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return Fail(binary.string() + " --version did not finish within 5 s");
  }
  std::ifstream in(spec.stdout_path);
  std::string said;
  std::getline(in, said);
  ::unlink(spec.stdout_path.c_str());
  if (exit->exit_code != 0) {
    return Fail(binary.string() + " --version ended with " + exit->Describe() +
                (said.empty() ? "" : ": " + said));
  }
  spdlog::info("upgrade: {} --version says \"{}\"", binary.string(), said);
  return Ok();
}

// Execs `binary` in this process, handing on `sockets` (named, in order) as descriptors 3, 4...
// with LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES (platform/listen_fds.h). Returns only when the
// exec failed, with every descriptor of this image as it was.
Status ExecHandingOn(const fs::path& binary, char** argv,
                     const std::vector<std::pair<std::string, int>>& sockets) {
  const int count = static_cast<int>(sockets.size());
  const int first_free = kListenFdsStart + count;
  // The sockets, out of the way of 3.. first; then whatever sits on 3.. is kept aside, so a
  // failed exec can put it back (the lock file or the log may live there).
  std::vector<int> moved;
  std::vector<int> saved(count, -1);
  auto undo = [&] {
    for (int i = 0; i < count; ++i) {
      if (saved[i] >= 0) {
        ::dup2(saved[i], kListenFdsStart + i);
        ::fcntl(kListenFdsStart + i, F_SETFD, FD_CLOEXEC);
        ::close(saved[i]);
      } else {
        ::close(kListenFdsStart + i);
      }
    }
    for (int fd : moved) ::close(fd);
  };
  for (const auto& [name, fd] : sockets) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (copy < 0) {
      for (int c : moved) ::close(c);
      return Fail("cannot duplicate the " + name + " socket: " + std::strerror(errno));
    }
    moved.push_back(copy);
  }
  for (int i = 0; i < count; ++i) {
    if (::fcntl(kListenFdsStart + i, F_GETFD) >= 0) {
      saved[i] = ::fcntl(kListenFdsStart + i, F_DUPFD_CLOEXEC, 100);
    }
  }
  for (int i = 0; i < count; ++i) ::dup2(moved[i], kListenFdsStart + i);  // not close-on-exec
  // Nothing else crosses: Asio's sockets are not opened close-on-exec.
  ::close_range(first_free, ~0U, CLOSE_RANGE_CLOEXEC);
  std::vector<std::string> names;
  for (const auto& [name, fd] : sockets) names.push_back(name);
  std::vector<std::string> env = EnvironmentHandingOn(names, ::getpid());
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  // SIGUSR2 and SIGHUP would end the new image before it sets up its handlers: ignored across
  // the exec (an ignored signal stays ignored), restored if the exec fails.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_usr2 {
  }, old_hup{};
  ::sigaction(SIGUSR2, &ignore, &old_usr2);
  ::sigaction(SIGHUP, &ignore, &old_hup);
  sigset_t none, old_mask;
  sigemptyset(&none);
  ::pthread_sigmask(SIG_SETMASK, &none, &old_mask);
  ::execve(binary.c_str(), argv, envp.data());
  const int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGUSR2, &old_usr2, nullptr);
  ::sigaction(SIGHUP, &old_hup, nullptr);
  undo();
  return Fail("cannot exec " + binary.string() + ": " + std::strerror(err));
}

}  // namespace

int RunDaemon(const std::string& config_path) {
  // Before any thread exists: nothing inherited (an ignored SIGCHLD above all, which makes the
  // kernel reap children itself) changes how yoke sees its instances. SIGPIPE is ignored below.
  // SIGUSR2 and SIGHUP wait (pending, not lost) until the loop handles them: their default
  // action would end yoke, and /status answers (so `yoke upgrade` may signal) before the loop
  // runs. Every thread started from here on inherits the block; RunUntilSignal lifts it on
  // this thread once its handlers are in place.
  sigset_t requests;
  sigemptyset(&requests);
  sigaddset(&requests, SIGUSR2);
  sigaddset(&requests, SIGHUP);
  ResetSignalDispositions(requests);
  // What an instance leaves behind when one of its processes dies comes back to yoke, not to
  // init, so that it is stopped and reaped with its instance (platform/process.h).
  if (auto st = BecomeChildSubreaper(); !st) {
    std::cerr << "yoke: " << st.error().message() << "\n";
    return kExitFailure;
  }
  // First, before any thread: sockets handed over by systemd or by this process's previous
  // image (an upgrade), and the environment variables that named them, which no instance
  // must inherit.
  InheritedSockets inherited = TakeInheritedSockets();
  const std::string image_started_at = NowText();
  const bool upgraded = std::getenv("YOKE_UPGRADED") != nullptr;
  ::unsetenv("YOKE_UPGRADED");
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  Env& env = *PosixEnv();
  BaseFolder base(config->base_dir(), IdentifierOf(*config), &env);
  if (auto st = base.Prepare(); !st) {
    std::cerr << "yoke: " << st.error().message() << "\n";
    return kExitFailure;
  }
  // Held for yoke's whole life, so two supervisors never share one base.
  auto lock = env.LockFile(base_paths::Lock(base.root()));
  if (!lock) {
    if (lock.error().is(ErrorCode::kConflict)) {
      std::cerr << "yoke: another yoke supervises " << base.root().string() << " (lock "
                << base_paths::Lock(base.root()).string() << " is held)\n";
      return kExitLocked;
    }
    std::cerr << "yoke: " << lock.error().message() << "\n";
    return kExitFailure;
  }
  SetUpLogging(*config, base.LogPath());
  ::signal(SIGPIPE, SIG_IGN);
  for (const std::string& problem : inherited.problems) spdlog::warn("{}", problem);
  auto self_path = SelfPath();

  auto exec_helper = FindExecHelper();
  if (!exec_helper) {
    spdlog::error("{}", exec_helper.error().message());
    return kExitFailure;
  }
  RealClock clock;
  const auto started = clock.Now();
  // This thread runs the supervisor loop for yoke's whole life: the parent-death signal of
  // every instance follows the thread that spawned it.
  auto launcher = MakeProcessLauncher({.exec_helper = *exec_helper});
  auto probe = MakeHealthProbe();
  EvidenceWindow evidence;
  proxy::Proxy proxy(ProxyOptionsFrom(*config), &evidence);
  const HostPort proxy_listen = *ParseHostPort(config->listen());
  // An inherited listening socket (systemd's, or the previous image's) already queues users in
  // the kernel: the proxy accepts from it once running is up (adopted across an upgrade: at
  // once), so that a restart answers them late rather than with 502. A socket yoke binds itself
  // is bound now, so that a port in use fails the start before anything else happens.
  int proxy_fd = inherited.Take("proxy");
  std::atomic<bool> proxy_accepting = false;  // read by /readyz on the admin thread
  if (proxy_fd < 0) {
    if (auto st = proxy.Start(proxy_listen); !st) {
      spdlog::error("{}", st.error().message());
      return kExitFailure;
    }
    proxy_accepting = true;
  }
  std::unique_ptr<meta::MetaSync> meta;
  std::string host = HostName();
  Supervisor* supervisor_ptr = nullptr;
  std::string webhook_secret;
  std::function<std::unique_ptr<meta::MetaSync>()> make_meta;
  if (config->meta().enabled()) {
    meta::MetaSyncOptions options;
    options.settings = MetaSettingsOf(*config);
    host = options.settings.host();
    options.service = config->service();
    options.identifier = IdentifierOf(*config);
    options.base = base.root();
    options.env = &env;
    options.yoke_version = YOKE_VERSION_STRING;
    options.is_current = [&supervisor_ptr](const std::string& version) {
      auto s = supervisor_ptr->Snapshot();
      return version == s.running().version() || version == s.testing().version() ||
             version == s.judge().promoting() || version == s.held();
    };
    options.no_room = [&env, &base, &config](uint64_t bytes) -> std::optional<std::string> {
      auto space = env.FreeSpace(base.root());
      if (!space) return std::nullopt;
      const uint64_t floor = FreeSpaceFloor(*config, space->total);
      if (space->available >= floor && space->available - floor >= bytes) return std::nullopt;
      return fmt::format(
          "not fetched: {} bytes would leave less free in {} than the floor of {} bytes "
          "(intake.min_free_bytes, min_free_percent); {} bytes are free",
          bytes, base.root().string(), floor, space->available);
    };
    options.rollback = [&supervisor_ptr](const std::string& version, const std::string& reason,
                                         const std::string& author,
                                         bool at_once) -> StatusOr<std::string> {
      auto done = supervisor_ptr->RequestVerdict(
          at_once ? ManualAction::kRollbackNow : ManualAction::kRollback, reason, author, version);
      if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return Unavailable("the supervisor did not answer within 30 s");
      }
      return done.get();
    };
    options.live_flags = [&supervisor_ptr](
                             const ServicePolicy& definition,
                             const std::vector<std::string>& changes) -> StatusOr<std::string> {
      auto done = supervisor_ptr->RequestLiveFlags(definition, changes, "meta");
      if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
        return Unavailable("the supervisor did not answer within 30 s");
      }
      return done.get();
    };
    make_meta = [options, &clock] { return std::make_unique<meta::MetaSync>(options, &clock); };
    meta = make_meta();
    if (!config->meta().webhook_secret_file().empty()) {
      auto secret = env.ReadFile(config->meta().webhook_secret_file());
      if (!secret) {
        spdlog::error("meta.webhook_secret_file: {}", secret.error().message());
        return kExitUsage;
      }
      webhook_secret = *secret;
      while (!webhook_secret.empty() &&
             std::isspace(static_cast<unsigned char>(webhook_secret.back())))
        webhook_secret.pop_back();
    }
  }
  // Zips unused versions on a thread of its own; outlives the supervisor, which submits to it.
  Archiver archiver([base](const std::string& version) { return base.ArchiveVersion(version); },
                    Archiver::Mode::kBackground);
  SupervisorDeps deps{&clock, launcher.get(), probe.get(), IsPortFree, host};
  deps.archiver = &archiver;
  deps.traffic = &proxy;
  deps.evidence = &evidence;
  if (meta) {
    deps.meta_notify = [&meta](const std::string& running, const std::string& testing) {
      meta->Notify(running, testing);
    };
    deps.release_env = [&meta](const std::string& version) { return meta->EnvFor(version); };
    deps.policy_override = [&meta] { return meta->PolicyOverride(); };
    deps.decision_provenance = [&meta](Decision* d) { meta->FillProvenance(d); };
  }
  Supervisor supervisor(*config, base, deps);
  supervisor_ptr = &supervisor;
  std::mutex image_mu;
  ImageStatus image;  // GUARDED_BY(image_mu)
  image.set_pid(::getpid());
  image.set_started_at(image_started_at);
  image.set_yoke_version(YOKE_VERSION_STRING);
  image.set_upgraded(upgraded);
  image.set_config_loaded_at(image_started_at);
  auto inputs = [&] {
    StatusInputs in;
    in.service = config->service();
    in.uptime = std::chrono::duration_cast<std::chrono::seconds>(clock.Now() - started);
    in.supervisor = supervisor.Snapshot();
    in.upstreams = proxy.Current();
    in.proxy = proxy.Stats();
    in.pairs = evidence.Stats();
    in.candidate = evidence.candidate();
    if (meta) in.meta = meta->Snapshot();
    std::lock_guard lock(image_mu);
    in.image = image;
    if (auto process = ReadProcessMetrics()) in.process = *process;
    in.build_githash = YOKE_BUILD_GITHASH;
    return in;
  };
  std::string random(32, '\0');
  if (std::ifstream urandom("/dev/urandom", std::ios::binary);
      !urandom.read(random.data(), static_cast<std::streamsize>(random.size()))) {
    spdlog::error("cannot read /dev/urandom for the admin token");
    return kExitFailure;
  }
  auto token = EnsureAdminToken(env, TokenPath(*config), random);
  if (!token) {
    spdlog::error("{}", token.error().message());
    return kExitFailure;
  }
  AdminHandlers handlers;
  handlers.status_json = [&] {
    StatusInputs in = inputs();
    in.decisions = ReadDecisionFolder(env, base.DecisionsDir(), kStatusDecisions);  // not /metrics
    return StatusJson(in);
  };
  handlers.metrics_text = [&] { return MetricsText(inputs()); };
  handlers.token = *token;
  handlers.allowed_hosts = {config->admin_allowed_hosts().begin(),
                            config->admin_allowed_hosts().end()};
  handlers.decision_text = [&](const std::string& id) {
    return DecisionText(env, base.DecisionsDir(), id);
  };
  handlers.verdict = [&](ManualAction action, const std::string& reason, const std::string& author,
                         const std::string& version) -> AdminResponse {
    auto done = supervisor.RequestVerdict(action, reason, author, version);
    if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return {503, "text/plain", "the supervisor did not answer within 10 s\n"};
    }
    auto result = done.get();
    if (!result) return {409, "text/plain", result.error().message() + "\n"};
    return {200, "text/plain", *result + "\n"};
  };
  if (meta && !webhook_secret.empty()) {
    handlers.webhook = [&meta] { meta->FetchNow(); };
    handlers.webhook_secret = webhook_secret;
    handlers.webhook_branch = config->meta().branch();
  }
  // /healthz: the loop turned lately (a tick blocks at most one health probe); /readyz: the
  // proxy takes users and running is up.
  std::atomic<int64_t> last_tick_ms = SteadyMillis();
  const int64_t stalled_ms =
      std::max<int64_t>(10000, 3 * static_cast<int64_t>(config->health().probe_timeout_ms()));
  handlers.alive = [&last_tick_ms, stalled_ms]() -> std::optional<std::string> {
    const int64_t since = SteadyMillis() - last_tick_ms.load();
    if (since <= stalled_ms) return std::nullopt;
    return fmt::format("the supervisor loop last turned {} ms ago", since);
  };
  handlers.ready = [&]() -> std::optional<std::string> {
    if (!proxy_accepting) return "the proxy is not accepting users yet";
    if (!supervisor.Snapshot().running().up()) return "no healthy running instance";
    return std::nullopt;
  };
  // The webhook's own listener (webhook_listen): /webhook and the health endpoints only.
  std::unique_ptr<AdminServer> webhook_server;
  std::optional<HostPort> webhook_listen;
  if (!config->webhook_listen().empty()) {
    webhook_listen = *ParseHostPort(config->webhook_listen());
    if (!handlers.webhook) {
      spdlog::warn(
          "webhook_listen {} is not opened: the webhook needs meta with "
          "meta.webhook_secret_file",
          config->webhook_listen());
    } else {
      AdminHandlers hook;
      hook.webhook = handlers.webhook;
      hook.webhook_secret = handlers.webhook_secret;
      hook.webhook_branch = handlers.webhook_branch;
      hook.alive = handlers.alive;
      hook.webhook_only = true;
      handlers.webhook = nullptr;  // not on the admin listener as well
      webhook_server = std::make_unique<AdminServer>(hook);
      if (auto st = webhook_server->Start(*webhook_listen); !st) {
        spdlog::error("webhook_listen: {}", st.error().message());
        return kExitFailure;
      }
      spdlog::info("webhook on its own listener, port {}", webhook_server->port());
    }
  }
  SystemdNotifier systemd;
  if (systemd.enabled()) {
    spdlog::info(
        "systemd notify socket set{}",
        systemd.watchdog_interval()
            ? fmt::format("; watchdog every {} ms", systemd.watchdog_interval()->count() / 1000)
            : std::string());
  }
  // The page's history (/status/history) and timeline (/decisions): history_report.h.
  StatusHistory history(kHistoryPoints, LatencyBounds());
  handlers.history_json = [&history] { return HistoryJson(history, kHistoryInterval); };
  handlers.decisions_json = [&](size_t limit) {
    return TimelineJson(ReadDecisionFolder(env, base.DecisionsDir(), limit),
                        [&meta](const std::string& version) -> std::string {
                          if (!meta) return {};
                          auto vars = meta->EnvFor(version);
                          auto sources = vars.find("YOKE_RELEASE_SOURCES");
                          return sources == vars.end() ? std::string() : sources->second;
                        });
  };
  AdminServer admin(handlers);
  HistorySampler sampler(
      &history,
      [&] {
        return HistoryReadingOf(evidence.candidate(), evidence.Stats().total(), proxy.Stats(),
                                std::chrono::duration_cast<std::chrono::milliseconds>(
                                    clock.WallNow().time_since_epoch())
                                    .count());
      },
      kHistoryInterval);
  const HostPort admin_listen = *ParseHostPort(config->admin_listen());
  const int admin_fd = inherited.Take("admin");
  if (auto st = admin.Start(admin_listen, admin_fd); !st) {
    spdlog::error("{}", st.error().message());
    return kExitFailure;
  }
  spdlog::info("yoke {} supervising {} in {} (pid {}{}); proxy {}, admin API on port {}{}",
               YOKE_VERSION_STRING, config->service(), base.root().string(), ::getpid(),
               upgraded ? ", upgraded in place" : "",
               proxy_fd >= 0 ? "on an inherited socket (fd " + std::to_string(proxy_fd) + ")"
                             : "on port " + std::to_string(proxy.port()),
               admin.port(), admin_fd >= 0 ? " (inherited socket)" : "");
  if (auto st = supervisor.Start(); !st) {
    spdlog::error("cannot start: {}", st.error().message());
    return kExitFailure;
  }
  if (meta) {
    if (auto st = meta->Start(); !st)
      spdlog::error("meta is off for this run: {}", st.error().message());
  }
  const auto accept_by = clock.Now() + std::chrono::milliseconds(config->health().timeout_ms());
  auto start_accepting = [&]() -> bool {
    if (auto st = proxy.Start(proxy_listen, proxy_fd); !st) {
      spdlog::error("{}", st.error().message());
      return false;
    }
    proxy_accepting = true;
    spdlog::info("proxy accepting on the inherited socket, port {}{}", proxy.port(),
                 supervisor.Snapshot().running().up() ? "" : " (running is not up yet)");
    return true;
  };

  // SIGUSR2: an in-place upgrade. Stop taking users (they queue in the kernel's backlog), let
  // the requests under way finish (bounded by proxy.drain_timeout_ms), stop the admin API and
  // meta, write the journal, and exec the binary at this process's own path, handing it the two
  // listening sockets; the new image adopts the instances. Anything that fails before the exec
  // (or the exec itself) leaves this image running as it was, with a log line saying why.
  auto upgrade = [&]() -> Status {
    if (!self_path) return Fail(self_path.error().message());
    spdlog::info("upgrade requested (SIGUSR2): checking {}", self_path->string());
    YOKE_RETURN_IF_ERROR(CheckNewImage(*launcher, *self_path, base_paths::StateDir(base.root())));
    if (!proxy_accepting) {
      if (!start_accepting()) return Fail("the proxy is not accepting; upgrade not started");
    }
    // Kept open across the drain and the stops below: these are the sockets handed on.
    const int proxy_keep = ::fcntl(proxy.listening_fd(), F_DUPFD_CLOEXEC, 100);
    const int admin_keep = ::fcntl(admin.listening_fd(), F_DUPFD_CLOEXEC, 100);
    if (proxy_keep < 0 || admin_keep < 0) {
      if (proxy_keep >= 0) ::close(proxy_keep);
      if (admin_keep >= 0) ::close(admin_keep);
      return Fail(std::string("cannot duplicate the listening sockets: ") + std::strerror(errno));
    }
    const auto drain_start = std::chrono::steady_clock::now();
    const uint64_t cut = proxy.Drain(std::chrono::milliseconds(config->proxy().drain_timeout_ms()),
                                     std::chrono::milliseconds(1000));
    proxy.Stop();
    admin.Stop();
    if (webhook_server) webhook_server->Stop();  // the new image binds webhook_listen again
    if (meta) meta->Stop();
    // Everything comes back on the same sockets, meta first: the admin API's handlers read it.
    auto restore = [&] {
      if (make_meta) {
        meta = make_meta();
        if (auto st = meta->Start(); !st) {
          spdlog::error("meta is off for this run: {}", st.error().message());
        }
      }
      if (auto st = admin.Start(admin_listen, admin_keep); !st) {
        spdlog::error("after the failed upgrade: {}", st.error().message());
        ::close(admin_keep);
      }
      if (webhook_server) {
        if (auto st = webhook_server->Start(*webhook_listen); !st) {
          spdlog::error("after the failed upgrade: {}", st.error().message());
        }
      }
      if (auto st = proxy.Start(proxy_listen, proxy_keep); !st) {
        spdlog::error("after the failed upgrade: {}", st.error().message());
        ::close(proxy_keep);
      }
    };
    if (auto st = supervisor.PrepareUpgrade(); !st) {
      restore();
      return st;
    }
    spdlog::info("upgrade: proxy drained in {} ms ({} connections cut); exec {} with pid {}",
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - drain_start)
                     .count(),
                 cut, self_path->string(), ::getpid());
    spdlog::default_logger()->flush();
    std::string binary = self_path->string();
    std::string run_word = "run", config_flag = "--config", config_arg = config_path;
    char* argv[] = {binary.data(), run_word.data(), config_flag.data(), config_arg.data(), nullptr};
    ::setenv("YOKE_UPGRADED", "1", 1);
    Status exec = ExecHandingOn(*self_path, argv, {{"proxy", proxy_keep}, {"admin", admin_keep}});
    ::unsetenv("YOKE_UPGRADED");
    // Still here: the exec failed.
    restore();
    return exec;
  };

  DaemonSignals on_signal;
  on_signal.upgrade = [&] {
    auto st = upgrade();
    // Only a failure comes back here.
    std::string why = st ? std::string("unknown reason") : st.error().message();
    spdlog::error("upgrade failed, still running the old image: {}", why);
    std::lock_guard lock(image_mu);
    image.set_last_upgrade_error(NowText() + " " + why);
  };
  // SIGHUP: the config file is read again. Its live fields apply (core/config_reload.h); the
  // others keep their running values and are named in one line as needing a restart. A file
  // that does not load (or whose live part would not pass the checks) is refused with its
  // file:line, and the running config stays.
  on_signal.reload = [&] {
    systemd.Reloading();  // READY=1 follows at the next tick, whatever the outcome
    auto refuse = [&](const std::string& why) {
      spdlog::error("config reload (SIGHUP) refused, the running config stays: {}", why);
      std::lock_guard lock(image_mu);
      image.set_last_reload_error(NowText() + " " + why);
    };
    auto loaded = LoadConfig(config_path);
    if (!loaded) {
      std::string why = loaded.error().message();
      while (!why.empty() && why.back() == '\n') why.pop_back();
      for (char& c : why) {
        if (c == '\n') c = ';';
      }
      refuse(why);
      return;
    }
    ConfigReload plan = PlanReload(*config, *loaded);
    if (auto problems = CheckConfig(plan.applied); !problems.empty()) {
      refuse(config_path + ": with the running values of the fields that need a restart: " +
             problems.front().message);
      return;
    }
    *config = plan.applied;
    supervisor.Reload(*config);
    proxy.SetDefaultMirror(MirrorPolicyFrom(config->mirror()));
    spdlog::default_logger()->set_level(spdlog::level::from_str(config->log().level()));
    auto join = [](const std::vector<std::string>& names) {
      std::string out;
      for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
      return out;
    };
    spdlog::info(
        "config reloaded from {} (SIGHUP): {}", config_path,
        plan.changed_live.empty() ? "no live field changed" : "applied " + join(plan.changed_live));
    if (!plan.needs_restart.empty()) {
      spdlog::warn("config reload: changed but needing a restart (running values kept): {}",
                   join(plan.needs_restart));
    }
    std::lock_guard lock(image_mu);
    image.set_config_loaded_at(NowText());
    image.set_last_reload_error("");
  };
  RunUntilSignal(
      std::chrono::milliseconds(config->tick_ms()),
      [&] {
        // A library error that slipped past its adapter must not take the services down with it.
        try {
          supervisor.Tick();
        } catch (const std::exception& e) {
          spdlog::error("supervisor tick failed: {}; going on", e.what());
        }
        const StatusReport snapshot = supervisor.Snapshot();
        if (!proxy_accepting && (snapshot.running().up() || clock.Now() >= accept_by)) {
          // Tried once: a socket the proxy cannot take is said in the log, and yoke goes on.
          start_accepting();
          proxy_accepting = true;
        }
        last_tick_ms = SteadyMillis();
        // READY=1 once the proxy takes users and running is up, or at the health deadline
        // without it (a first start with nothing to run must not fail the unit's start).
        systemd.Watchdog(std::chrono::steady_clock::now());
        if (!systemd.ready_sent() && proxy_accepting &&
            (snapshot.running().up() || clock.Now() >= accept_by)) {
          systemd.Ready(SystemdStatusLine(snapshot));
        } else if (systemd.ready_sent()) {
          systemd.SetStatus(SystemdStatusLine(snapshot));
        }
      },
      on_signal);
  systemd.Stopping();
  if (webhook_server) webhook_server->Stop();

  admin.Stop();
  supervisor.Shutdown();
  if (meta) meta->Stop();
  proxy.Stop();
  spdlog::info("yoke stopped");
  return kExitOk;
}

int RunProxy(const ProxyArgs& args) {
  const std::string& listen = args.listen;
  const std::string& running = args.running;
  const std::string& testing = args.testing;
  const std::string& admin_listen = args.admin;
  auto listen_at = ParseHostPort(listen);
  auto running_at = ParseHostPort(running);
  std::optional<HostPort> testing_at;
  if (!testing.empty()) {
    auto parsed = ParseHostPort(testing);
    if (!parsed) {
      std::cerr << "yoke proxy: --testing " << parsed.error().message() << "\n";
      return kExitUsage;
    }
    testing_at = *parsed;
  }
  if (!listen_at || !running_at) {
    std::cerr << "yoke proxy: "
              << (!listen_at ? "--listen " + listen_at.error().message()
                             : "--running " + running_at.error().message())
              << "\n";
    return kExitUsage;
  }
  ::signal(SIGPIPE, SIG_IGN);
  RealClock clock;
  const auto started = clock.Now();
  auto options = ProxyOptionsFrom(Config());
  options.threads = args.threads;
  if (!args.mirror_methods.empty()) {
    options.mirror.methods.clear();
    for (const std::string& m : args.mirror_methods) options.mirror.methods.insert(m);
  }
  if (args.body_sample_rate >= 0) options.mirror.body_sample_rate = args.body_sample_rate;
  EvidenceWindow evidence;
  proxy::Proxy proxy(options, &evidence);
  UpstreamSnapshot snapshot;
  snapshot.running = Upstream{running_at->host, running_at->port, "running"};
  if (testing_at) snapshot.testing = Upstream{testing_at->host, testing_at->port, "testing"};
  proxy.Publish(snapshot);
  if (auto st = proxy.Start(*listen_at); !st) {
    std::cerr << "yoke proxy: " << st.error().message() << "\n";
    return kExitFailure;
  }
  auto inputs = [&] {
    StatusInputs in;
    in.service = "proxy";
    in.uptime = std::chrono::duration_cast<std::chrono::seconds>(clock.Now() - started);
    in.upstreams = proxy.Current();
    in.proxy = proxy.Stats();
    in.pairs = evidence.Stats();
    return in;
  };
  AdminServer admin({[&] { return StatusJson(inputs()); }, [&] { return MetricsText(inputs()); }});
  if (!admin_listen.empty()) {
    auto admin_at = ParseHostPort(admin_listen);
    if (!admin_at) {
      std::cerr << "yoke proxy: --admin " << admin_at.error().message() << "\n";
      return kExitUsage;
    }
    if (auto st = admin.Start(*admin_at); !st) {
      std::cerr << "yoke proxy: " << st.error().message() << "\n";
      return kExitFailure;
    }
  }
  spdlog::info("yoke proxy on port {} -> running {}:{}{}", proxy.port(), running_at->host,
               running_at->port,
               testing_at ? fmt::format(", mirroring to {}:{}", testing_at->host, testing_at->port)
                          : std::string());
  RunUntilSignal(std::chrono::milliseconds(1000), nullptr);
  admin.Stop();
  proxy.Stop();
  return kExitOk;
}

}  // namespace yoke
