#include "supervisor/run.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "core/config_settings.h"
#include "core/evidence_window.h"
#include "meta/sync.h"
#include "platform/health_probe.h"
#include "platform/logging.h"
#include "platform/posix_env.h"
#include "platform/process.h"
#include "platform/real_clock.h"
#include "proxy/proxy.h"
#include "supervisor/admin/admin_api.h"
#include "supervisor/admin/status_report.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/config_loader.h"
#include "supervisor/daemon/supervisor.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

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
  o.max_connections = p.max_connections();
  o.route_patterns.assign(p.routes().begin(), p.routes().end());
  o.mirror = MirrorPolicyFrom(m);
  return o;
}

// Blocks until SIGINT or SIGTERM, calling `tick` every `period` meanwhile (if given).
void RunUntilSignal(std::chrono::milliseconds period, const std::function<void()>& tick) {
  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) spdlog::info("signal {} received: stopping", sig);
    io.stop();
  });
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

}  // namespace

int RunDaemon(const std::string& config_path) {
  // Before any thread exists: nothing inherited (an ignored SIGCHLD above all, which makes the
  // kernel reap children itself) changes how yoke sees its instances. SIGPIPE is ignored below.
  ResetSignalDispositions();
  // What an instance leaves behind when one of its processes dies comes back to yoke, not to
  // init, so that it is stopped and reaped with its instance (platform/process.h).
  if (auto st = BecomeChildSubreaper(); !st) {
    std::cerr << "yoke: " << st.error().message() << "\n";
    return kExitFailure;
  }
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
  if (auto st = proxy.Start(*ParseHostPort(config->listen())); !st) {
    spdlog::error("{}", st.error().message());
    return kExitFailure;
  }
  std::unique_ptr<meta::MetaSync> meta;
  std::string host = HostName();
  Supervisor* supervisor_ptr = nullptr;
  std::string webhook_secret;
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
    meta = std::make_unique<meta::MetaSync>(std::move(options), &clock);
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
  }
  Supervisor supervisor(*config, base, deps);
  supervisor_ptr = &supervisor;
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
  }
  AdminServer admin(handlers);
  if (auto st = admin.Start(*ParseHostPort(config->admin_listen())); !st) {
    spdlog::error("{}", st.error().message());
    return kExitFailure;
  }
  spdlog::info("yoke {} supervising {} in {} (pid {}); proxy on port {}, admin API on port {}",
               YOKE_VERSION_STRING, config->service(), base.root().string(), ::getpid(),
               proxy.port(), admin.port());
  if (auto st = supervisor.Start(); !st) {
    spdlog::error("cannot start: {}", st.error().message());
    return kExitFailure;
  }
  if (meta) {
    if (auto st = meta->Start(); !st)
      spdlog::error("meta is off for this run: {}", st.error().message());
  }

  RunUntilSignal(std::chrono::milliseconds(config->tick_ms()), [&] {
    // A library error that slipped past its adapter must not take the services down with it.
    try {
      supervisor.Tick();
    } catch (const std::exception& e) {
      spdlog::error("supervisor tick failed: {}; going on", e.what());
    }
  });

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
