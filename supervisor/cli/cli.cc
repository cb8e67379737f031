#include "supervisor/cli/cli.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>

#include "base-layout/base_folder.h"
#include "base-layout/decision_log.h"
#include "base-layout/text_record.h"
#include "core/config_check.h"
#include "platform/posix_env.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/cli_meta.h"
#include "supervisor/cli/cli_ops.h"
#include "supervisor/cli/cli_upgrade.h"

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

// An operator's verdict, sent to the running supervisor's admin API with its token.
int VerdictCommand(const std::string& config_path, const std::string& action,
                   const std::string& reason, const std::string& author, const std::string& version,
                   bool now = false) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  auto token = PosixEnv()->ReadFile(TokenPath(*config));
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
  if (!ReadTextRecord(base.env(),
                      base_paths::InstanceRecord(base_paths::RoleLink(base.root(), "running")),
                      &running)) {
    return std::nullopt;
  }
  for (const DecisionEntry& entry : ReadDecisionFolder(base.env(), base.DecisionsDir()).entries) {
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
    auto previous = PreviousRunning(BaseOf(*config));
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
  BaseFolder base = BaseOf(*config);
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
      if (auto st = ReadTextRecord(base.env(), base_paths::InstanceRecord(dir), &record); !st) {
        state = "no record";
      } else {
        state = InstanceState(record);
      }
      std::string role_mark;
      std::error_code ec;  // a link the daemon just moved on is no mark, not a crash
      if (running && fs::equivalent(*running, dir, ec)) role_mark = "  <- running";
      if (testing && fs::equivalent(*testing, dir, ec)) role_mark = "  <- testing";
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

int RunCli(int argc, char** argv, const CliWiring& wiring) {
  CLI::App app{"yoke: a canary supervisor and traffic splitter for one service on one host"};
  app.set_version_flag(
      "--version", std::string("yoke ") + YOKE_VERSION_STRING + " (githash " + YOKE_GITHASH + ")");
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

  ProxyArgs proxy_args;
  auto* proxy_cmd = app.add_subcommand(
      "proxy", "Run only the proxy and evidence gathering, in front of services run elsewhere.");
  proxy_cmd->add_option("--listen", proxy_args.listen, "address to listen on, host:port")
      ->required();
  proxy_cmd->add_option("--running", proxy_args.running, "the running upstream, host:port")
      ->required();
  proxy_cmd->add_option("--testing", proxy_args.testing,
                        "the testing upstream to mirror to, host:port");
  proxy_cmd->add_option("--admin", proxy_args.admin, "admin API address (/status, /metrics)");
  proxy_cmd->add_option("--threads", proxy_args.threads, "worker threads")
      ->check(CLI::Range(1, 64));
  proxy_cmd
      ->add_option("--mirror-methods", proxy_args.mirror_methods,
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
  auto run_ops_command = AddOpsCommands(app);         // status, decisions, archive (cli_ops.cc)
  auto run_upgrade_command = AddUpgradeCommand(app);  // cli_upgrade.cc

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
  if (auto code = run_upgrade_command()) return *code;
  if (*run) return wiring.run(config_path);
  if (*rollback) {
    return RollbackCommand(config_path, rollback_version, reason, author, rollback_now);
  }
  if (*check) return CheckConfigCommand(check_path);
  if (*versions) return VersionsCommand(config_path);
  if (*proxy_cmd) return wiring.proxy(proxy_args);
  for (auto& [cmd, action] : verdicts) {
    if (*cmd) return VerdictCommand(config_path, action, reason, author, pin_version);
  }
  return kExitUsage;
}

}  // namespace yoke
