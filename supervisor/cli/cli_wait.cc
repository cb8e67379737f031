#include "supervisor/cli/cli_wait.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "core/duration_text.h"
#include "core/record_text.h"
#include "proto/yoke/status.pb.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/cli_help.h"
#include "supervisor/cli/cli_ops.h"
#include "supervisor/cli/decision_source.h"
#include "supervisor/cli/ops_format.h"

namespace yoke {
namespace {

using Clock = std::chrono::steady_clock;

struct WaitOptions {
  std::string config_path;
  std::string version;
  std::string timeout = "10m";
  std::string interval = "1s";
  CLI::App* command = nullptr;
};

std::optional<StatusReport> ReadStatus(const Config& config, std::string* why) {
  AdminCall call = CallAdmin(config.admin_listen(), "GET", "/status");
  if (call.outcome != AdminCall::Outcome::kAnswered) {
    *why = "no answer from the admin API at " + call.where + " (" + call.error + ")";
    return std::nullopt;
  }
  if (call.status != 200) {
    *why = "the admin API answered HTTP " + std::to_string(call.status);
    return std::nullopt;
  }
  StatusReport report;
  if (Status st = ParseJsonRecord("/status", call.body, &report); !st) {
    *why = st.error().message();
    return std::nullopt;
  }
  return report;
}

bool UnderTest(const StatusReport& s, const std::string& version) {
  return s.testing().version() == version || s.judge().promoting() == version;
}

int Wait(const WaitOptions& o) {
  auto timeout = ParseDurationText(o.timeout);
  auto interval = ParseDurationText(o.interval);
  if (!timeout || !interval) {
    std::cerr << "yoke wait: " << (timeout ? interval : timeout).error().message() << "\n";
    return kExitUsage;
  }
  if (interval->count() < 50) *interval = std::chrono::milliseconds(50);
  auto config = LoadOrReport(o.config_path);
  if (!config) return kExitUsage;
  auto source = MakeDecisionSource(*config, {});
  if (!source) {
    std::cerr << "yoke wait: " << source.error().message() << "\n";
    return kExitFailure;
  }
  const auto deadline = Clock::now() + *timeout;
  std::string version = o.version;
  std::set<std::string> stale;
  bool looked = false;       // the first look at a known version is done
  std::string last_problem;  // said once, not every second
  const DecisionEntry* settled = nullptr;
  DecisionListing listing;
  std::optional<StatusReport> status;
  while (true) {
    std::string why;
    status = ReadStatus(*config, &why);
    if (!status && why != last_problem) {
      std::cerr << "yoke wait: " << why << "; trying again until the timeout\n";
      last_problem = why;
    }
    if (version.empty() && status) {
      version = !status->testing().version().empty() ? status->testing().version()
                                                     : status->judge().promoting();
      if (version.empty() && last_problem != "nothing under test") {
        std::cerr << "yoke wait: nothing under test yet; waiting for a candidate\n";
        last_problem = "nothing under test";
      }
    }
    if (!version.empty()) {
      listing = (*source)->List(200);
      if (!looked && status) {
        if (UnderTest(*status, version)) {
          // Decisions of an earlier try of this version do not settle this one.
          for (const DecisionEntry& e : listing.entries) stale.insert(e.id);
          std::cerr << "yoke wait: " << version << " is under test; waiting for its decision\n";
        }
        looked = true;
      }
      settled = looked ? SettlingDecision(listing, version, stale) : nullptr;
      if (settled && settled->decision.verdict() != Verdict::PROMOTE) break;
      // A promotion is done once the version runs: its new running instance may still fail.
      if (settled && status && status->running().version() == version && status->running().up()) {
        break;
      }
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(*interval, deadline - Clock::now()));
  }
  if (!settled || (settled->decision.verdict() == Verdict::PROMOTE &&
                   !(status && status->running().version() == version))) {
    std::cerr << "yoke wait: timed out after " << o.timeout << ": "
              << (version.empty() ? std::string("no candidate came under test")
                                  : version + " is not decided" +
                                        (settled ? " (promoted, but not running yet)" : ""));
    if (status && status->has_judge() && !status->judge().verdict().empty()) {
      std::cerr << "; judge: " << status->judge().verdict() << ", "
                << static_cast<uint64_t>(status->judge().pairs()) << " pairs";
    }
    std::cerr << "\n";
    return kExitWaitTimeout;
  }
  std::cout << FormatDecisionList({*settled});
  std::cout << "decision " << settled->id << "\n";
  return settled->decision.verdict() == Verdict::PROMOTE ? kExitWaitPromoted : kExitWaitRejected;
}

}  // namespace

const DecisionEntry* SettlingDecision(const DecisionListing& listing, const std::string& version,
                                      const std::set<std::string>& stale) {
  for (const DecisionEntry& e : listing.entries) {  // newest first
    if (!e.problem.empty() || stale.contains(e.id)) continue;
    const Decision& d = e.decision;
    if (d.to_version() != version) continue;
    if (d.verdict() == Verdict::PROMOTE || d.verdict() == Verdict::REJECT ||
        d.verdict() == Verdict::SUPERSEDE) {
      return &e;
    }
  }
  return nullptr;
}

std::function<std::optional<int>()> AddWaitCommand(CLI::App& app) {
  auto o = std::make_shared<WaitOptions>();
  o->command = app.add_subcommand(
      "wait",
      "Block until the candidate is decided; exit 0 when it is promoted and running, 10 when it "
      "is rejected or superseded, 11 at the timeout. For CI pipelines and scripts.");
  o->command->add_option("--config,-c", o->config_path, "config file, the one `yoke run` uses")
      ->required();
  AddConfigName(o->command, &o->config_path);
  o->command->add_option("--version", o->version,
                         "the candidate to wait for (default: the one under test now)");
  o->command->add_option("--timeout", o->timeout, "give up after this long (90s, 10m, 1h)")
      ->capture_default_str();
  o->command->add_option("--interval", o->interval, "how often to look")->capture_default_str();
  o->command->footer(
      "Examples:\n  yoke wait hello --version 2.1.0 --timeout 15m && echo promoted\n"
      "  yoke wait --config /etc/yoke/hello.txtpb; echo $?   # 0, 10 or 11\n");
  return [o]() -> std::optional<int> {
    if (!*o->command) return std::nullopt;
    return Wait(*o);
  };
}

}  // namespace yoke
