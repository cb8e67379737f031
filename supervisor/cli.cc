#include "supervisor/cli.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <future>
#include <iostream>

#include "base-layout/archive.h"
#include "base-layout/base_folder.h"
#include "base-layout/text_record.h"
#include "core/address.h"
#include "core/config_check.h"
#include "core/evidence_window.h"
#include "proxy/proxy.h"
#include "supervisor/admin_api.h"
#include "supervisor/cli_common.h"
#include "supervisor/cli_meta.h"
#include "supervisor/cli_ops.h"
#include "supervisor/config_loader.h"
#include "supervisor/decision_source.h"
#include "supervisor/health_probe.h"
#include "supervisor/logging.h"
#include "supervisor/meta_sync.h"
#include "supervisor/process.h"
#include "supervisor/real_clock.h"
#include "supervisor/status_report.h"
#include "supervisor/supervisor.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

int CheckConfigCommand(const std::string& path) {
  auto config = LoadOrReport(path);
  if (!config) return kExitUsage;
  std::cout << path << ": ok (service " << config->service() << ", base " << config->base_dir()
            << ")\n";
  return kExitOk;
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
  o.max_connections = p.max_connections();
  o.route_patterns.assign(p.routes().begin(), p.routes().end());
  o.mirror = MirrorPolicyFrom(m);
  return o;
}

// Reads the admin token, creating it (32 random bytes as hex, mode 0600) when missing.
StatusOr<std::string> EnsureToken(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) {
    std::ifstream random("/dev/urandom", std::ios::binary);
    unsigned char bytes[32];
    if (!random.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
      return Fail("cannot read /dev/urandom for the admin token");
    }
    std::string hex;
    for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Fail("cannot create admin token " + path.string());
    hex += "\n";
    bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size());
    ::close(fd);
    if (!ok) return Fail("cannot write admin token " + path.string());
  }
  YOKE_ASSIGN_OR_RETURN(std::string token, ReadFile(path));
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return Fail("admin token file " + path.string() + " is empty");
  return token;
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
  std::unique_ptr<MetaSync> meta;
  std::string host = HostName();
  Supervisor* supervisor_ptr = nullptr;
  std::string webhook_secret;
  if (config->meta().enabled()) {
    MetaSyncOptions options;
    options.settings = MetaSettingsOf(*config);
    host = options.settings.host();
    options.service = config->service();
    options.identifier = IdentifierOf(*config);
    options.base = base.root();
    options.yoke_version = YOKE_VERSION_STRING;
    options.is_current = [&supervisor_ptr](const std::string& version) {
      auto s = supervisor_ptr->Snapshot();
      return version == s.running.version || version == s.testing.version ||
             version == s.promoting || version == s.held;
    };
    meta = std::make_unique<MetaSync>(std::move(options), &clock);
    if (!config->meta().webhook_secret_file().empty()) {
      auto secret = ReadFile(config->meta().webhook_secret_file());
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
  SupervisorDeps deps{&clock, launcher.get(), probe.get(), IsPortFree, host};
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
  auto token = EnsureToken(TokenPath(*config));
  if (!token) {
    spdlog::error("{}", token.error().message());
    return kExitFailure;
  }
  AdminHandlers handlers;
  handlers.status_json = [&] {
    StatusInputs in = inputs();
    in.decisions = RecentDecisions(base.root() / "decisions", kStatusDecisions);  // not /metrics
    return StatusJson(in);
  };
  handlers.metrics_text = [&] { return MetricsText(inputs()); };
  handlers.token = *token;
  handlers.allowed_hosts = {config->admin_allowed_hosts().begin(),
                            config->admin_allowed_hosts().end()};
  handlers.decision_text = [&](const std::string& id) {
    return DecisionText(base.root() / "decisions", id);
  };
  handlers.verdict = [&](const std::string& action, const std::string& reason,
                         const std::string& author, const std::string& version) -> AdminResponse {
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
  ::close(lock_fd);
  return kExitOk;
}

int ProxyCommand(const std::string& listen, const std::string& running, const std::string& testing,
                 const std::string& admin_listen, unsigned threads,
                 const std::vector<std::string>& mirror_methods) {
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
  options.threads = threads;
  if (!mirror_methods.empty()) {
    options.mirror.methods.clear();
    for (const std::string& m : mirror_methods) options.mirror.methods.insert(m);
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

// An operator's verdict, sent to the running supervisor's admin API with its token.
int VerdictCommand(const std::string& config_path, const std::string& action,
                   const std::string& reason, const std::string& author, const std::string& version,
                   bool now = false) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  auto token = ReadFile(TokenPath(*config));
  if (!token) {
    std::cerr << "yoke " << action << ": " << token.error().message()
              << " (is yoke running, and are you allowed to read its token?)\n";
    return kExitFailure;
  }
  std::string bearer = *token;
  while (!bearer.empty() && (bearer.back() == '\n' || bearer.back() == ' ')) bearer.pop_back();
  boost::json::object body{
      {"reason", reason}, {"author", OperatorName(author)}, {"version", version}};
  if (now) body["now"] = true;
  // The supervisor answers within 10 s (or says it could not); allow for the round trip.
  AdminCall call = CallAdmin(config->admin_listen(), "POST", "/" + action, bearer,
                             boost::json::serialize(body), std::chrono::seconds(15));
  if (call.outcome == AdminCall::Outcome::kUnreachable) {
    std::cerr << "yoke " << action << ": cannot reach the admin API at " << call.where << " ("
              << call.error << "); is yoke running?\n";
    return kExitFailure;
  }
  if (call.outcome == AdminCall::Outcome::kNoAnswer) {
    std::cerr << "yoke " << action << ": no answer from the admin API: " << call.error << "\n";
    return kExitFailure;
  }
  (call.status == 200 ? std::cout : std::cerr) << call.body;
  return call.status == 200 ? kExitOk : kExitFailure;
}

// The version that ran before the running one: the one the newest promotion to the running
// version replaced. nullopt when the base does not say.
std::optional<std::string> PreviousRunning(const BaseFolder& base) {
  InstanceRecord running;
  if (!ReadTextRecord(base.root() / "running" / "instance.txtpb", &running)) return std::nullopt;
  for (const DecisionEntry& entry :
       FolderDecisionSource(base.root() / "decisions").List().decisions) {
    const Decision& decision = entry.decision;
    if ((decision.verdict() == Verdict::PROMOTE || decision.verdict() == Verdict::ROLLBACK) &&
        decision.to_version() == running.version() && !decision.from_version().empty()) {
      return decision.from_version();
    }
  }
  return std::nullopt;
}

int RollbackCommand(const std::string& config_path, std::string version, const std::string& reason,
                    const std::string& author, bool now) {
  if (version.empty()) {
    auto config = LoadOrReport(config_path);
    if (!config) return kExitUsage;
    auto previous = PreviousRunning(BaseFolder(config->base_dir(), IdentifierOf(*config)));
    if (!previous) {
      std::cerr << "yoke rollback: the base does not say which version ran before the running "
                   "one; name it (see `yoke versions`)\n";
      return kExitUsage;
    }
    version = *previous;
    std::cout << "rolling back to " << version << ", the version that ran before\n";
  }
  return VerdictCommand(config_path, "rollback", reason, author, version, now);
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
        state = InstanceState(record);
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

  std::string listen, running_at, testing_at, admin_at;
  unsigned threads = 1;
  auto* proxy_cmd = app.add_subcommand(
      "proxy", "Run only the proxy and evidence gathering, in front of services run elsewhere.");
  proxy_cmd->add_option("--listen", listen, "address to listen on, host:port")->required();
  proxy_cmd->add_option("--running", running_at, "the running upstream, host:port")->required();
  proxy_cmd->add_option("--testing", testing_at, "the testing upstream to mirror to, host:port");
  proxy_cmd->add_option("--admin", admin_at, "admin API address (/status, /metrics)");
  proxy_cmd->add_option("--threads", threads, "worker threads")->check(CLI::Range(1, 64));
  std::vector<std::string> mirror_methods;
  proxy_cmd
      ->add_option("--mirror-methods", mirror_methods,
                   "methods copied to testing (default GET,HEAD,OPTIONS)")
      ->delimiter(',');
  proxy_cmd->footer(
      "Example: yoke proxy --listen 0.0.0.0:8080 --running 127.0.0.1:9001 "
      "--testing 127.0.0.1:9002 --admin 127.0.0.1:8081");

  std::string reason, author, pin_version;
  std::vector<std::pair<CLI::App*, std::string>> verdicts;
  const std::pair<const char*, const char*> kVerdicts[] = {
      {"promote", "Promote the candidate under test now, by hand."},
      {"reject", "Reject the candidate under test now, by hand."},
      {"pin",
       "Pin running to VERSION (the running version): the candidate is rejected and new "
       "ones wait until unpin."},
      {"unpin", "Release a pin; the newest waiting candidate is then tested."}};
  for (const auto& [action, help] : kVerdicts) {
    auto* cmd = app.add_subcommand(action, std::string(help) + " Recorded as a decision.");
    if (std::string(action) == "pin")
      cmd->add_option("version", pin_version, "the running version")->required();
    cmd->add_option("--config,-c", config_path, "config file")->required();
    cmd->add_option("--reason", reason, "why; goes into the decision")->required();
    cmd->add_option("--author", author, "who decided (default: $SUDO_USER or $USER)");
    cmd->footer(std::string("Example: yoke ") + action +
                (std::string(action) == "pin" ? " 1.4.2" : "") +
                " --config /etc/yoke/hello.txtpb --reason \"checked the dashboards\"");
    verdicts.emplace_back(cmd, action);
  }

  MetaCommands meta_commands(app);
  auto run_ops_command = AddOpsCommands(app);  // status, decisions, archive (cli_ops.cc)

  std::string rollback_version;
  bool rollback_now = false;
  auto* rollback = app.add_subcommand(
      "rollback",
      "Bring back a version (from its archive if need be). By default it comes back as "
      "testing, judged like any candidate; with --now it becomes running at once through the "
      "no-drop switch. Recorded as a decision.");
  rollback->add_option("version", rollback_version,
                       "the version (default: the one that ran before the running one)");
  rollback->add_option("--config,-c", config_path, "config file")->required();
  rollback->add_option("--reason", reason, "why; goes into the decision")->required();
  rollback->add_option("--author", author, "who decided (default: $SUDO_USER or $USER)");
  rollback->add_flag("--now", rollback_now, "make it running at once, without a judgement");
  rollback->footer(
      "Examples: yoke rollback --config /etc/yoke/hello.txtpb --reason \"errors since 2.1.0\"\n"
      "          yoke rollback 2.0.0 --now --config /etc/yoke/hello.txtpb --reason \"outage\"");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (auto code = meta_commands.Run()) return *code;
  if (auto code = run_ops_command()) return *code;
  if (*run) return RunCommand(config_path);
  if (*rollback) {
    return RollbackCommand(config_path, rollback_version, reason, author, rollback_now);
  }
  if (*check) return CheckConfigCommand(check_path);
  if (*versions) return VersionsCommand(config_path);
  if (*proxy_cmd)
    return ProxyCommand(listen, running_at, testing_at, admin_at, threads, mirror_methods);
  for (auto& [cmd, action] : verdicts) {
    if (*cmd) return VerdictCommand(config_path, action, reason, author, pin_version);
  }
  return kExitUsage;
}

}  // namespace yoke
