#include "meta/fleet.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/artifact_name.h"
#include "core/record_text.h"
#include "meta/layout.h"
#include "meta/records.h"

namespace yoke::meta {
namespace {

// The failed gates of a decision, route gates as "route gate".
std::vector<std::string> FailedGates(const Decision& decision) {
  std::vector<std::string> gates;
  for (const Gate& gate : decision.gates()) {
    if (gate.outcome() == "fail") gates.push_back(gate.name());
  }
  for (const Gate& gate : decision.route_gates()) {
    if (gate.outcome() == "fail") gates.push_back(gate.route() + " " + gate.name());
  }
  return gates;
}

Status CheckNames(const CaptainTarget& target) {
  for (const std::string& name : {target.project, target.env, target.channel}) {
    if (!IsSafeComponent(name)) return Fail("bad name \"" + name + "\"");
  }
  return Ok();
}

}  // namespace

StatusOr<Fleet> ReadFleet(const GitStore& store, const std::string& project, const std::string& env,
                          const FleetDecisions& which) {
  Fleet fleet;
  const std::string dir = HostsDir(project, env);
  YOKE_ASSIGN_OR_RETURN(std::vector<std::string> files, store.ListFiles(dir));
  std::set<std::string> wanted;
  if (!which.all) {
    std::map<std::pair<std::string, std::string>, std::string> newest;  // by file name
    for (const std::string& path : files) {
      auto place = ParseDecisionPath(path);
      if (!place) continue;
      std::string& last = newest[{place->host, place->service}];
      if (last.empty() || place->file > last.substr(last.rfind('/') + 1)) last = path;
      if (!which.to.empty() && (place->file.ends_with("-to-" + which.to + ".txtpb") ||
                                place->file.ends_with("-to-" + which.to + ".pb"))) {
        wanted.insert(path);
      }
    }
    for (const auto& [key, path] : newest) wanted.insert(path);
  }
  YOKE_ASSIGN_OR_RETURN(fleet.decisions, ReadDecisions(
                                             store, dir, 0,
                                             which.all ? std::function<bool(const std::string&)>()
                                                       : [&wanted](const std::string& path) {
                                                           return wanted.contains(path);
                                                         }));
  if (!fleet.decisions.error.empty()) return Fail(fleet.decisions.error);
  std::map<std::pair<std::string, std::string>, const DecisionEntry*> last;
  for (const DecisionEntry& entry : fleet.decisions.entries) {  // newest first
    auto place = ParseDecisionPath(entry.path);
    if (place) last.try_emplace({place->host, place->service}, &entry);
  }
  for (const std::string& path : files) {
    // <dir>/<host>/<service>/status.txtpb (or .pb)
    const std::string rest = path.substr(dir.size() + 1);
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    const std::string host = rest.substr(0, slash);
    const std::string tail = rest.substr(slash + 1);
    const size_t second = tail.find('/');
    if (second == std::string::npos) continue;
    const std::string file = tail.substr(second + 1);
    if (file != "status.txtpb" && file != "status.pb") continue;
    FleetRow row;
    row.member.host = host;
    row.member.service = tail.substr(0, second);
    if (file == "status.pb" &&
        std::binary_search(files.begin(), files.end(),
                           dir + "/" + host + "/" + row.member.service + "/status.txtpb")) {
      continue;  // the text record wins; ReadRecord reads it first
    }
    auto status = Read<HostStatus>(store, StatusPath(project, env, host, row.member.service));
    if (!status) {
      row.problem = status.error().message();
    } else if (*status) {
      row.status = **status;
      row.member.channel = row.status.channel();
      row.member.running = row.status.running();
      row.member.testing = row.status.testing();
      row.member.seen =
          ParseUtc(row.status.seen().empty() ? row.status.since() : row.status.seen());
    }
    if (auto it = last.find({host, row.member.service}); it != last.end()) {
      row.last_decision = *it->second;
    }
    fleet.rows.push_back(std::move(row));
  }
  return fleet;
}

StatusOr<FleetReport> ReadFleetReport(const GitStore& store, const std::string& project,
                                      const std::string& env, WallTime now) {
  FleetReport report;
  report.set_project(project);
  report.set_env(env);
  YOKE_ASSIGN_OR_RETURN(std::string tip, store.Tip());
  report.set_commit(tip);
  YOKE_ASSIGN_OR_RETURN(Fleet fleet, ReadFleet(store, project, env, {false, ""}));
  // Each channel's rollout, read once.
  std::map<std::string, std::optional<Rollout>> rollouts;
  for (const FleetRow& row : fleet.rows) {
    const std::string& channel = row.member.channel;
    if (channel.empty() || rollouts.contains(channel) || !IsSafeComponent(channel)) continue;
    auto rollout = Read<Rollout>(store, RolloutPath(project, env, channel));
    rollouts[channel] = rollout && *rollout ? **rollout : std::optional<Rollout>();
    if (!rollouts[channel] || rollouts[channel]->plan().stages().empty()) continue;
    const RolloutState& state = rollouts[channel]->state();
    FleetRolloutStatus* r = report.add_rollouts();
    r->set_channel(channel);
    r->set_release(state.release());
    for (int i = 0; i < state.stages_size(); ++i) {
      if (!state.stages(i).opened().empty()) {
        r->set_stage(fmt::format("{}/{} {}", i + 1, state.stages_size(), state.stages(i).name()));
      }
    }
    if (state.release().empty()) {
      r->set_state("not started");
    } else if (!state.halt().time().empty()) {
      r->set_state("halted");
      r->set_detail(state.halt().reason() + "; decision " + state.halt().decision());
    } else if (!state.finished().empty()) {
      r->set_state("finished");
    } else {
      r->set_state("rolling");
    }
  }
  for (const FleetRow& row : fleet.rows) {
    FleetMemberStatus* m = report.add_members();
    m->set_host(row.member.host);
    m->set_service(row.member.service);
    m->set_channel(row.member.channel);
    m->set_running(row.member.running);
    m->set_testing(row.member.testing);
    m->set_problem(row.problem);
    m->set_seen(row.status.seen().empty() ? row.status.since() : row.status.seen());
    const std::optional<Rollout>* rollout = nullptr;
    if (auto it = rollouts.find(row.member.channel); it != rollouts.end()) rollout = &it->second;
    uint64_t stale_s = 1800;
    if (rollout && *rollout && (*rollout)->plan().host_stale_s()) {
      stale_s = (*rollout)->plan().host_stale_s();
    }
    if (row.member.seen) {
      m->set_seen_age_s(
          std::chrono::duration_cast<std::chrono::seconds>(now - *row.member.seen).count());
    }
    m->set_stale(!row.member.seen || m->seen_age_s() > static_cast<double>(stale_s));
    m->set_judge(m->stale() ? "unknown" : row.member.testing.empty() ? "idle" : "judging");
    if (row.last_decision) {
      m->set_last_decision(row.last_decision->id);
      m->set_last_verdict(Verdict_Name(row.last_decision->decision.verdict()));
    }
    if (rollout && *rollout && !(*rollout)->state().stages().empty()) {
      const RolloutState& state = (*rollout)->state();
      const size_t stage = StageOf(state, row.member.host);
      m->set_stage(fmt::format("{}/{} {}{}", stage + 1, state.stages_size(),
                               state.stages(stage).name(),
                               state.stages(stage).opened().empty() ? "" : " (open)"));
    }
  }
  return report;
}

StatusOr<CaptainMove> CaptainPass(GitStore& store, const CaptainTarget& target, WallTime now,
                                  const Author& author) {
  YOKE_RETURN_IF_ERROR(CheckNames(target));
  YOKE_ASSIGN_OR_RETURN(std::string tip, store.Tip());
  CaptainInput input;
  input.channel = target.channel;
  input.now = now;
  YOKE_ASSIGN_OR_RETURN(
      auto channel, Read<Channel>(store, ChannelPath(target.project, target.env, target.channel)));
  if (!channel) {
    return NotFound("no channel " + ChannelPath(target.project, target.env, target.channel));
  }
  input.channel_release = channel->release();
  const std::string rollout_path = RolloutPath(target.project, target.env, target.channel);
  YOKE_ASSIGN_OR_RETURN(auto rollout, Read<Rollout>(store, rollout_path));
  if (!rollout || rollout->plan().stages().empty()) {
    CaptainMove move;
    move.notes.push_back(fmt::format("channel {} has no rollout plan ({}): nothing to do",
                                     target.channel, rollout_path));
    return move;
  }
  input.rollout = *rollout;
  YOKE_ASSIGN_OR_RETURN(
      Fleet fleet, ReadFleet(store, target.project, target.env, {false, input.channel_release}));
  for (FleetRow& row : fleet.rows) input.members.push_back(std::move(row.member));
  for (const DecisionEntry& entry : fleet.decisions.entries) {
    const Decision& d = entry.decision;
    if (d.verdict() != Verdict::REJECT || d.to_version() != input.channel_release) continue;
    auto place = ParseDecisionPath(entry.path);
    if (!place) continue;
    input.rejects.push_back(
        {place->host, place->service, entry.path, d.reason(), FailedGates(d), ParseUtc(d.time())});
  }
  CaptainMove move = CaptainStep(input);
  if (!move.changed) return move;
  YOKE_ASSIGN_OR_RETURN(std::string text, PrintTextRecord(move.rollout));
  YOKE_RETURN_IF_ERROR(store.Commit({{rollout_path, text}}, move.message, author, tip));
  return move;
}

StatusOr<std::string> OrderRollback(GitStore& store, const CaptainTarget& target,
                                    const FleetRollback& rollback, const Author& author) {
  YOKE_RETURN_IF_ERROR(CheckNames(target));
  const std::string& version = rollback.version();
  YOKE_ASSIGN_OR_RETURN(auto release, Read<Release>(store, ReleasePath(target.project, version)));
  if (!release) {
    return NotFound("no release " + version + " of " + target.project + " (" +
                    ReleasePath(target.project, version) + ")");
  }
  if (rollback.reason().empty()) return Invalid("say why: --reason");
  const std::string path = ChannelPath(target.project, target.env, target.channel);
  Channel record;
  std::string previous = "none";
  YOKE_ASSIGN_OR_RETURN(auto old, Read<Channel>(store, path));
  if (old) record = *old;
  if (!record.release().empty()) previous = record.release();
  record.set_release(version);
  *record.mutable_rollback() = rollback;
  YOKE_ASSIGN_OR_RETURN(std::string text, PrintTextRecord(record));
  return store.Commit(
      {{path, text}},
      fmt::format("channel {}/{}/{}: roll back to {}{} (was {}), by {}: {}", target.project,
                  target.env, target.channel, version, rollback.now() ? " at once" : "", previous,
                  rollback.author(), rollback.reason()),
      author);
}

}  // namespace yoke::meta
