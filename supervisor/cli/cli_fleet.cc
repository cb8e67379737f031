#include "supervisor/cli/cli_fleet.h"

#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <iostream>

#include "core/record_text.h"
#include "core/rollout.h"
#include "meta/fleet.h"
#include "meta/layout.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/cli_meta.h"
#include "supervisor/cli/ops_format.h"

namespace yoke {
namespace {

WallTime Now() { return std::chrono::system_clock::now(); }

}  // namespace

FleetCommands::FleetCommands(CLI::App& app) {
  auto where = [this](CLI::App* cmd, bool channel) {
    cmd->add_option("--repo", repo_,
                    "the meta repository: a clone, a bare remote's path, or a URL (ssh://, "
                    "https://, file://: through a cached clone)");
    remote_flags_.AddTo(cmd);
    cmd->add_option("--config,-c", config_,
                    "a yoke config: use its <base>/meta and its meta project, env and channel");
    cmd->add_option("--project", project_, "the project (default: the config's)");
    cmd->add_option("--env", env_, "the environment (default: the config's, or prod)");
    if (channel) {
      cmd->add_option("--channel", channel_, "the channel (default: the config's, or stable)");
    }
  };
  fleet_ = app.add_subcommand("fleet", "Every host's status and decisions, as meta shows them.");
  fleet_->require_subcommand(1);
  status_ = fleet_->add_subcommand(
      "status", "One row per host and service: roles, last decision, last seen, rollout stage.");
  where(status_, false);
  status_->add_flag("--json", json_, "print the report as JSON");
  status_->footer("Example: yoke fleet status --repo /srv/meta.git --project shop");
  decisions_ = fleet_->add_subcommand("decisions", "Decisions across hosts, newest first.");
  where(decisions_, false);
  decisions_->add_option("--release", release_, "only decisions about this version");
  decisions_->add_option("--host", host_, "only this host's");
  decisions_->add_option("--verdict", verdict_, "only this verdict (promote, reject, ...)");
  decisions_->add_option("--limit", limit_, "only the newest N");
  decisions_->add_flag("--json", json_, "print them as JSON, one object per line");
  decisions_->footer(
      "Example: yoke fleet decisions --repo /srv/meta.git --project shop "
      "--verdict reject");

  captain_ = app.add_subcommand(
      "captain",
      "Move a channel's staged rollout: open the next stage when the current one promoted and "
      "held, halt on a reject (docs/fleet.md). Runs until SIGTERM; `captain step` does one pass.");
  where(captain_, true);
  captain_->add_option("--interval", interval_s_, "seconds between passes (default 30)")
      ->check(CLI::Range(1u, 86400u));
  captain_->add_option("--author", author_, "the commits' author (default: captain)");
  captain_->footer("Example: yoke captain --repo /srv/meta.git --project shop --channel stable");
  captain_step_ = captain_->add_subcommand("step", "One pass, then exit (for cron or CI).");
  where(captain_step_, true);
  captain_step_->add_option("--author", author_, "the commits' author (default: captain)");
}

std::optional<int> FleetCommands::Run() {
  if (*status_) return Status();
  if (*decisions_) return Decisions();
  if (*captain_) return Captain(captain_step_->parsed());
  return std::nullopt;
}

int FleetCommands::Status() {
  auto place = ResolveMetaPlace({repo_, "", project_, env_, channel_, {}}, config_);
  if (!place) {
    std::cerr << "yoke fleet status: " << place.error().message();
    return kExitUsage;
  }
  if (place->project.empty()) {
    std::cerr << "yoke fleet status: --project is required without --config\n";
    return kExitUsage;
  }
  auto store = Open(*place);
  if (!store) {
    std::cerr << "yoke fleet status: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto report = meta::ReadFleetReport(**store, place->project, place->env, Now());
  if (!report) {
    std::cerr << "yoke fleet status: " << report.error().message() << "\n";
    return kExitFailure;
  }
  if (json_) {
    auto json = PrintJsonRecord(*report);
    if (!json) {
      std::cerr << "yoke fleet status: " << json.error().message() << "\n";
      return kExitFailure;
    }
    std::cout << *json << "\n";
    return kExitOk;
  }
  std::cout << FormatFleet(*report);
  return kExitOk;
}

int FleetCommands::Decisions() {
  auto place = ResolveMetaPlace({repo_, "", project_, env_, channel_, {}}, config_);
  if (!place) {
    std::cerr << "yoke fleet decisions: " << place.error().message();
    return kExitUsage;
  }
  if (place->project.empty()) {
    std::cerr << "yoke fleet decisions: --project is required without --config\n";
    return kExitUsage;
  }
  std::optional<Verdict> verdict;
  if (!verdict_.empty()) {
    Verdict parsed;
    std::string upper = verdict_;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!Verdict_Parse(upper, &parsed) || parsed == Verdict::VERDICT_UNSPECIFIED) {
      std::cerr << "yoke fleet decisions: --verdict is one of promote, reject, supersede, pin, "
                   "rollback, not \""
                << verdict_ << "\"\n";
      return kExitUsage;
    }
    verdict = parsed;
  }
  auto store = Open(*place);
  if (!store) {
    std::cerr << "yoke fleet decisions: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto fleet = meta::ReadFleet(**store, place->project, place->env);
  if (!fleet) {
    std::cerr << "yoke fleet decisions: " << fleet.error().message() << "\n";
    return kExitFailure;
  }
  std::vector<DecisionEntry> shown;
  for (DecisionEntry& entry : fleet->decisions.entries) {
    if (!entry.problem.empty()) {
      std::cerr << "skipped: " << entry.problem << "\n";
      continue;
    }
    const Decision& d = entry.decision;
    auto place_of = meta::ParseDecisionPath(entry.path);
    if (!host_.empty() && (!place_of || place_of->host != host_)) continue;
    if (!release_.empty() && d.to_version() != release_ && d.from_version() != release_) continue;
    if (verdict && d.verdict() != *verdict) continue;
    if (limit_ > 0 && shown.size() == limit_) break;
    shown.push_back(std::move(entry));
  }
  if (!json_) {
    std::cout << FormatDecisionList(shown, /*with_place=*/true);
    return kExitOk;
  }
  for (const DecisionEntry& entry : shown) {
    auto json = PrintJsonRecord(entry.decision);
    if (!json) continue;
    // {"id":...,"path":...,"decision":{...}}; names come from meta, so they are escaped.
    boost::json::object line{{"id", entry.id}, {"path", entry.path}};
    std::string text = boost::json::serialize(line);
    text.pop_back();  // the closing brace
    std::cout << text << ",\"decision\":" << *json << "}\n";
  }
  return kExitOk;
}

int FleetCommands::Captain(bool once) {
  auto place = ResolveMetaPlace({repo_, "", project_, env_, channel_, {}}, config_);
  if (!place) {
    std::cerr << "yoke captain: " << place.error().message();
    return kExitUsage;
  }
  if (place->project.empty()) {
    std::cerr << "yoke captain: --project is required without --config\n";
    return kExitUsage;
  }
  const meta::Author author{author_.empty() ? "captain" : author_,
                            (author_.empty() ? "captain" : author_) + "@" + HostName()};
  const meta::CaptainTarget target{place->project, place->env, place->channel};
  // SIGTERM and SIGINT end the loop between passes (a pass itself is one commit at most).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (!once) sigprocmask(SIG_BLOCK, &stop, nullptr);
  std::vector<std::string> said;
  const bool url = IsMetaUrl(place->repo);
  for (;;) {
    auto store = Open(*place, "captain");
    // Through a URL, a commit left by a refused push was decided on an old tip: dropped.
    if (store && url) {
      if (yoke::Status dropped = (*store)->DropLocalCommits(); !dropped)
        store = std::unexpected(dropped.error());
    }
    StatusOr<CaptainMove> move = store ? meta::CaptainPass(**store, target, Now(), author)
                                       : StatusOr<CaptainMove>(std::unexpected(store.error()));
    if (move && move->changed && url) {
      // Pushed as decided or not at all: another writer's push means reading again.
      if (yoke::Status pushed = (*store)->Push(); !pushed) {
        (void)(*store)->DropLocalCommits();
        move = Conflict("\"" + move->message + "\" not pushed: " + pushed.error().message());
      }
    }
    int code = kExitOk;
    if (!move) {
      // Another captain moved the branch between this one's read and its commit: the next
      // pass reads again. Anything else is said and retried.
      std::cerr << "captain: " << move.error().message()
                << (move.error().code() == ErrorCode::kConflict ? "; reading again" : "") << "\n";
      code = kExitFailure;
    } else {
      if (move->changed) std::cout << "captain: " << move->message << "\n";
      if (move->notes != said || once) {
        for (const std::string& note : move->notes) std::cout << "captain: " << note << "\n";
        said = move->notes;
      }
    }
    std::cout.flush();
    if (once) return code;
    timespec wait{static_cast<time_t>(interval_s_), 0};
    if (move && move->changed) wait.tv_sec = 0;  // one move per commit; the next may be due
    if (sigtimedwait(&stop, nullptr, &wait) > 0) {
      std::cout << "captain: stopped\n";
      return kExitOk;
    }
  }
}

StatusOr<std::unique_ptr<meta::GitStore>> FleetCommands::Open(const MetaPlace& place,
                                                              const std::string& owner) {
  if (IsMetaUrl(place.repo)) {
    return OpenRemoteCache(place.repo, remote_flags_.Over(place.settings), owner);
  }
  return OpenMetaPlace(place);
}

}  // namespace yoke
