#include "supervisor/cli/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <iostream>

#include "base-layout/base_folder.h"
#include "base-layout/decision_log.h"
#include "base-layout/text_record.h"
#include "core/config_check.h"
#include "core/version.h"
#include "platform/posix_env.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/cli_fleet.h"
#include "supervisor/cli/cli_help.h"
#include "supervisor/cli/cli_meta.h"
#include "supervisor/cli/cli_ops.h"
#include "supervisor/cli/cli_upgrade.h"
#include "supervisor/cli/cli_wait.h"
#include "supervisor/cli/config_loader.h"
#include "supervisor/cli/ops_json.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

// Every problem in the file (syntax, unknown fields with the nearest known name, and the
// checks of core/config_check.h), then warnings that do not stop yoke: min_pairs below what a
// clean pass needs at the configured margins and confidence.
int CheckConfigCommand(std::string path) {
  if (path.empty()) return LoadOrReport(path) ? kExitOk : kExitUsage;  // says what to give
  std::error_code ec;  // a service's name: /etc/yoke/NAME.txtpb (cli_help.h)
  path = ResolveConfigName(path, ConfigDir(), std::filesystem::exists(path, ec));
  auto config = LoadConfig(path);
  if (!config) {
    std::string text = config.error().message();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::cerr << text << "\n";
    return kExitUsage;
  }
  for (const std::string& warning : ConfigWarnings(path, *config)) std::cerr << warning << "\n";
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

// Versions newest first (by version order), each with its instances; then the archives, newest
// first. With `as_json`, the same as one JSON document.
int VersionsCommand(const std::string& config_path, bool as_json) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  BaseFolder base = BaseOf(*config);
  auto running = base.RoleTarget("running");
  auto testing = base.RoleTarget("testing");
  auto names = base.ListVersions();
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) > 0; });
  std::vector<VersionRow> versions;
  for (const std::string& version : names) {
    VersionRow row;
    row.version = version;
    if (auto artifact = base.ArtifactOf(version)) row.artifact = artifact->filename().string();
    for (const fs::path& dir : base.ListInstanceDirs(version)) {
      VersionInstanceRow instance;
      instance.folder = dir.filename().string();
      InstanceRecord record;
      if (auto st = ReadTextRecord(base.env(), base_paths::InstanceRecord(dir), &record); !st) {
        instance.state = "no record";
      } else {
        instance.state = InstanceState(record);
      }
      instance.port = record.port();
      instance.pid = record.pid();
      instance.error = record.error();
      std::error_code ec;  // a link the daemon just moved on is no mark, not a crash
      if (running && fs::equivalent(*running, dir, ec)) instance.role = "running";
      if (testing && fs::equivalent(*testing, dir, ec)) instance.role = "testing";
      row.instances.push_back(std::move(instance));
    }
    versions.push_back(std::move(row));
  }
  auto archives = ArchiveRows(base);
  if (as_json) {
    std::cout << VersionsJson(base.root().string(), versions, archives);
    return kExitOk;
  }
  std::cout << "base " << base.root().string() << "\n";
  if (versions.empty()) std::cout << "no versions\n";
  for (const VersionRow& v : versions) {
    std::cout << "version " << v.version << "  "
              << (v.artifact.empty() ? "(no artifact)" : v.artifact) << "\n";
    for (const VersionInstanceRow& i : v.instances) {
      std::cout << "  " << i.folder << "  port " << i.port << "  pid " << i.pid << "  " << i.state;
      if (!i.error.empty()) std::cout << "  error: " << i.error;
      if (!i.role.empty()) std::cout << "  <- " << i.role;
      std::cout << "\n";
    }
  }
  std::cout << "archives (" << archives.size() << ")\n";
  for (const ArchiveRow& a : archives) {
    std::cout << "  " << a.file << "  " << HumanBytes(a.size) << "\n";
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
  check
      ->add_option("file", check_path,
                   "config file, or a service's name (/etc/yoke/NAME.txtpb); default $YOKE_CONFIG")
      ->envname("YOKE_CONFIG");
  check->footer(
      "Examples: yoke check-config /etc/yoke/hello.txtpb\n          yoke check-config hello");

  auto* versions = app.add_subcommand(
      "versions", "List versions (newest first), their instances, and archives (newest first).");
  versions->add_option("--config,-c", config_path, "config file")->required();
  AddConfigName(versions, &config_path);
  bool versions_json = false;
  versions->add_flag("--json", versions_json, "print JSON");
  versions->footer(
      "Examples: yoke versions --config /etc/yoke/hello.txtpb\n          yoke versions hello "
      "--json");

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
  proxy_cmd
      ->add_option("--body-sample-rate", proxy_args.body_sample_rate,
                   "share of mirrored GETs whose bodies are sampled (default 0.01; 0: off)")
      ->check(CLI::Range(0.0, 1.0));
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
  FleetCommands fleet_commands(app);
  auto run_ops_command = AddOpsCommands(app);         // status, decisions, archive (cli_ops.cc)
  auto run_upgrade_command = AddUpgradeCommand(app);  // cli_upgrade.cc
  auto run_wait_command = AddWaitCommand(app);        // cli_wait.cc

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

  ApplyConfigConventions(app);  // --config NAME, $YOKE_CONFIG (cli_help.h)
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code != 0) {
      if (auto hint = SuggestionFor(app, argc, argv)) std::cerr << "yoke: " << *hint << "\n";
    }
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (auto code = meta_commands.Run()) return *code;
  if (auto code = fleet_commands.Run()) return *code;
  if (auto code = run_ops_command()) return *code;
  if (auto code = run_upgrade_command()) return *code;
  if (auto code = run_wait_command()) return *code;
  if (*run) return wiring.run(config_path);
  if (*rollback) {
    return RollbackCommand(config_path, rollback_version, reason, author, rollback_now);
  }
  if (*check) return CheckConfigCommand(check_path);
  if (*versions) return VersionsCommand(config_path, versions_json);
  if (*proxy_cmd) return wiring.proxy(proxy_args);
  for (auto& [cmd, action] : verdicts) {
    if (*cmd) return VerdictCommand(config_path, action, reason, author, pin_version);
  }
  return kExitUsage;
}

}  // namespace yoke
