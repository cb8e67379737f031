#include "core/rollout.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>

#include "core/definition.h"

namespace yoke {
namespace {

constexpr uint64_t kDefaultStaleS = 1800;

std::string StageName(const RolloutState& state, size_t index) {
  std::string name = fmt::format("stage {}/{}", index + 1, state.stages_size());
  if (!state.stages(index).name().empty()) name += " \"" + state.stages(index).name() + "\"";
  return name;
}

std::string HostList(const google::protobuf::RepeatedPtrField<std::string>& hosts) {
  if (hosts.empty()) return "no host";
  std::string out;
  for (int i = 0; i < hosts.size() && i < 8; ++i) out += (i ? ", " : "") + hosts[i];
  if (hosts.size() > 8) out += fmt::format(" and {} more", hosts.size() - 8);
  return out;
}

int64_t SecondsBetween(WallTime from, WallTime to) {
  return std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
}

}  // namespace

std::optional<WallTime> ParseUtc(std::string_view text) {
  if (text.size() != 20 || text[19] != 'Z') return std::nullopt;
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char t = 0;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2dZ", &year, &month, &day, &t, &hour,
                  &minute, &second) != 7 ||
      t != 'T' || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string FormatRfc3339(WallTime t) { return FormatUtc(t, "%Y-%m-%dT%H:%M:%SZ"); }

uint64_t HostRank(std::string_view host) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : host) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::vector<std::vector<std::string>> AssignStages(const RolloutPlan& plan,
                                                   std::vector<std::string> hosts) {
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  const size_t n = plan.stages_size();
  std::vector<std::vector<std::string>> stages(n);
  if (n == 0) return stages;
  std::set<std::string> assigned;
  for (size_t i = 0; i < n; ++i) {
    for (const std::string& host : plan.stages(i).hosts()) {
      if (assigned.insert(host).second) stages[i].push_back(host);
    }
  }
  std::vector<std::string> ranked;
  for (const std::string& host : hosts) {
    if (!assigned.contains(host)) ranked.push_back(host);
  }
  std::sort(ranked.begin(), ranked.end(), [](const std::string& a, const std::string& b) {
    return std::pair(HostRank(a), a) < std::pair(HostRank(b), b);
  });
  size_t next = 0;
  size_t through = 0;  // hosts in this stage and the ones before it
  for (size_t i = 0; i < n; ++i) {
    through += stages[i].size();
    // A record is written by hand: NaN and out-of-range shares are read as 0 and 100.
    const double given = plan.stages(i).percent();
    const double percent = std::isnan(given) ? 0.0 : std::clamp(given, 0.0, 100.0);
    const auto target = static_cast<size_t>(std::ceil(percent / 100.0 * hosts.size() - 1e-9));
    while (through < target && next < ranked.size()) {
      stages[i].push_back(ranked[next++]);
      ++through;
    }
  }
  while (next < ranked.size()) stages[n - 1].push_back(ranked[next++]);
  for (auto& stage : stages) std::sort(stage.begin(), stage.end());
  return stages;
}

size_t StageOf(const RolloutState& state, std::string_view host) {
  for (int i = 0; i < state.stages_size(); ++i) {
    for (const std::string& listed : state.stages(i).hosts()) {
      if (listed == host) return i;
    }
  }
  return state.stages_size() == 0 ? 0 : state.stages_size() - 1;
}

RolloutGate GateFor(const Rollout& rollout, std::string_view channel_release,
                    std::string_view host) {
  if (rollout.plan().stages().empty()) return {};
  const RolloutState& state = rollout.state();
  if (state.release() != channel_release || state.stages().empty()) {
    return {false, fmt::format("the rollout of {} has not started (the captain starts it)",
                               channel_release)};
  }
  if (!state.halt().time().empty()) {
    return {false,
            fmt::format("the rollout of {} is halted: {}", channel_release, state.halt().reason())};
  }
  const size_t stage = StageOf(state, host);
  if (state.stages(stage).opened().empty()) {
    return {false, fmt::format("this host is in {} of the rollout of {}, not open yet",
                               StageName(state, stage), channel_release)};
  }
  return {};
}

CaptainMove CaptainStep(const CaptainInput& in) {
  CaptainMove move;
  move.rollout = in.rollout;
  const RolloutPlan& plan = in.rollout.plan();
  RolloutState& state = *move.rollout.mutable_state();
  const std::string now = FormatRfc3339(in.now);
  const std::string title = fmt::format("rollout {} {}", in.channel, in.channel_release);
  if (plan.stages().empty() || in.channel_release.empty()) return move;

  std::vector<const FleetMember*> following;
  for (const FleetMember& m : in.members) {
    if (m.channel == in.channel) following.push_back(&m);
  }

  // A new release: freeze the stages and open the first.
  // (A state without stages, written by hand, is started again.)
  if (state.release() != in.channel_release || state.stages().empty()) {
    std::vector<std::string> hosts;
    for (const FleetMember* m : following) hosts.push_back(m->host);
    auto stages = AssignStages(plan, hosts);
    state = RolloutState();
    state.set_release(in.channel_release);
    state.set_started(now);
    for (size_t i = 0; i < stages.size(); ++i) {
      RolloutStageState* stage = state.add_stages();
      stage->set_name(plan.stages(i).name());
      for (const std::string& host : stages[i]) stage->add_hosts(host);
    }
    state.mutable_stages(0)->set_opened(now);
    move.changed = true;
    move.message = fmt::format("{}: started; {} open ({})", title, StageName(state, 0),
                               HostList(state.stages(0).hosts()));
    return move;
  }
  if (!state.halt().time().empty()) {
    move.notes.push_back(fmt::format("{} is halted: {}", title, state.halt().reason()));
    return move;
  }
  if (!state.finished().empty()) {
    move.notes.push_back(fmt::format("{} finished at {}", title, state.finished()));
    return move;
  }

  // A reject from a host that took the release in this rollout.
  const auto started = ParseUtc(state.started());
  for (const FleetReject& reject : in.rejects) {
    if (started && reject.time && *reject.time < *started) continue;  // an earlier rollout's
    const std::string where = reject.host + "/" + reject.service;
    if (!plan.halt_on_reject()) {
      move.notes.push_back(fmt::format("{} rejected {} ({}); the plan does not halt on a reject",
                                       where, in.channel_release, reject.path));
      continue;
    }
    RolloutHalt* halt = state.mutable_halt();
    halt->set_time(now);
    halt->set_host(reject.host);
    halt->set_service(reject.service);
    std::string gates;
    for (const std::string& gate : reject.gates) {
      halt->add_gates(gate);
      gates += (gates.empty() ? "" : ", ") + gate;
    }
    halt->set_decision(reject.path);
    halt->set_reason(
        fmt::format("{} rejected it{}", where, gates.empty() ? "" : " (gates: " + gates + ")"));
    move.changed = true;
    move.message =
        fmt::format("{}: halted in {}: {}; decision {}", title,
                    StageName(state, StageOf(state, reject.host)), halt->reason(), reject.path);
    return move;
  }

  // The open stage: the last one opened.
  size_t current = 0;
  for (int i = 0; i < state.stages_size(); ++i) {
    if (!state.stages(i).opened().empty()) current = i;
  }
  const bool last = current + 1 == static_cast<size_t>(state.stages_size());
  const uint64_t stale_s = plan.host_stale_s() ? plan.host_stale_s() : kDefaultStaleS;
  std::set<std::string> hosts(state.stages(current).hosts().begin(),
                              state.stages(current).hosts().end());
  std::set<std::string> listed;
  for (const auto& stage : state.stages())
    listed.insert(stage.hosts().begin(), stage.hosts().end());
  size_t promoted = 0;
  size_t counted = 0;
  std::set<std::string> seen_hosts;
  std::vector<std::string> waiting;
  for (const FleetMember* m : following) {
    const bool in_stage = hosts.contains(m->host) || (last && !listed.contains(m->host));
    if (!in_stage) continue;
    seen_hosts.insert(m->host);
    const std::string where = m->host + "/" + m->service;
    const bool stale = !m->seen || SecondsBetween(*m->seen, in.now) > static_cast<int64_t>(stale_s);
    if (stale) {
      const std::string age =
          m->seen ? fmt::format("last seen {} s ago", SecondsBetween(*m->seen, in.now))
                  : std::string("never seen");
      if (plan.stale_hosts() == StaleHosts::SKIP) {
        move.notes.push_back(
            fmt::format("{} is unknown ({}): left out, as the plan says", where, age));
        continue;
      }
      waiting.push_back(
          fmt::format("{} is unknown ({}): the stage waits, as the plan says", where, age));
      ++counted;
      continue;
    }
    ++counted;
    if (ReleaseOf(m->running) == in.channel_release) {  // a definition of it counts too
      ++promoted;
    } else {
      waiting.push_back(fmt::format("{} runs {} (testing {})", where,
                                    m->running.empty() ? "nothing" : m->running,
                                    m->testing.empty() ? "nothing" : m->testing));
    }
  }
  for (const std::string& host : hosts) {
    if (seen_hosts.contains(host)) continue;
    if (plan.stale_hosts() == StaleHosts::SKIP) {
      move.notes.push_back(
          fmt::format("{} has no status for channel {}: left out", host, in.channel));
    } else {
      waiting.push_back(
          fmt::format("{} has no status for channel {}: the stage waits", host, in.channel));
      ++counted;
    }
  }
  if (!waiting.empty()) {
    move.notes.push_back(fmt::format("{}: {} waits: {} of {} promoted", title,
                                     StageName(state, current), promoted, counted));
    move.notes.insert(move.notes.end(), waiting.begin(), waiting.end());
    return move;
  }
  const auto opened = ParseUtc(state.stages(current).opened());
  const int64_t held = opened ? SecondsBetween(*opened, in.now) : 0;
  const uint64_t hold =
      current < static_cast<size_t>(plan.stages_size()) ? plan.stages(current).min_hold_s() : 0;
  if (held < static_cast<int64_t>(hold)) {
    move.notes.push_back(fmt::format("{}: {} promoted on {} host(s); held {} of {} s", title,
                                     StageName(state, current), promoted, held, hold));
    return move;
  }
  state.mutable_stages(current)->set_completed(now);
  const std::string done = fmt::format("{} promoted on {} host(s), held {} s",
                                       StageName(state, current), promoted, held);
  move.changed = true;
  if (last) {
    state.set_finished(now);
    move.message = fmt::format("{}: finished; {}", title, done);
  } else {
    state.mutable_stages(current + 1)->set_opened(now);
    move.message = fmt::format("{}: {} open ({}); {}", title, StageName(state, current + 1),
                               HostList(state.stages(current + 1).hosts()), done);
  }
  return move;
}

}  // namespace yoke
