// The Supervisor's judging window: reading the instances' logs, opening a window for a
// candidate, asking the judge, and recording decisions.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "base-layout/decision_log.h"
#include "base-layout/text_record.h"
#include "core/config_check.h"
#include "core/config_settings.h"
#include "core/utf8.h"
#include "core/version.h"
#include "supervisor/daemon/supervisor.h"

namespace yoke {
namespace fs = std::filesystem;

namespace {

// How many of the error kinds testing logged that running never has /status lists.
constexpr size_t kMaxNewKinds = 20;

void SetSideLogs(const LogCounts& logs, uint64_t requests, SideLogs* out) {
  out->set_errors(logs.errors);
  out->set_warnings(logs.warnings);
  out->set_requests(requests);
}

// One route gate with the figures of its test (docs/judge.md).
// The figures a gate carries, the same in /status's GateReading and the records' Gate.
template <typename GateMessage>
void SetGateFigures(const GateResult& g, GateMessage* gate) {
  gate->set_name(g.name);
  gate->set_outcome(std::string(GateOutcomeName(g.outcome)));
  gate->set_testing_count(g.testing_count);
  gate->set_testing_total(g.testing_total);
  gate->set_running_count(g.running_count);
  gate->set_running_total(g.running_total);
  gate->set_testing_rate(g.testing_rate);
  gate->set_running_rate(g.running_rate);
  gate->set_margin(g.margin);
  gate->set_z(g.z);
  gate->set_p_value(g.p_value);
  gate->set_adjusted_p(g.adjusted_p);
}

void SetRouteGate(const GateResult& g, RouteGateStatus* out) {
  out->set_outcome(std::string(GateOutcomeName(g.outcome)));
  out->set_testing_count(g.testing_count);
  out->set_testing_total(g.testing_total);
  out->set_running_count(g.running_count);
  out->set_running_total(g.running_total);
  out->set_testing_rate(g.testing_rate);
  out->set_running_rate(g.running_rate);
  out->set_margin(g.margin);
  out->set_z(g.z);
  out->set_p_value(g.p_value);
  out->set_adjusted_p(g.adjusted_p);
  out->set_detail(ValidUtf8(g.detail));
}

// What /status shows of the judge's last look at the evidence: each side's log lines by level
// and requests served since the window opened, the error kinds testing logged that running
// never has (most frequent first), each gate, and each route's own gates.
StatusReport ReadingOf(const Evidence& e, const Judgement& judgement) {
  StatusReport out;
  EvidenceLogs* logs = out.mutable_evidence()->mutable_logs();
  SetSideLogs(e.running_logs, e.running_requests, logs->mutable_running());
  SetSideLogs(e.testing_logs, e.testing_requests, logs->mutable_testing());
  std::vector<std::pair<std::string, uint64_t>> new_kinds;
  for (const auto& [kind, count] : e.testing_logs.error_kinds) {
    if (!e.running_kinds_ever.contains(kind)) new_kinds.emplace_back(kind, count);
  }
  std::stable_sort(new_kinds.begin(), new_kinds.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (new_kinds.size() > kMaxNewKinds) new_kinds.resize(kMaxNewKinds);
  for (const auto& [kind, count] : new_kinds) {
    ErrorKindCount* entry = logs->add_new_error_kinds();
    entry->set_kind(ValidUtf8(kind));
    entry->set_count(count);
  }
  for (const GateResult& g : judgement.gates) {
    GateReading* gate = out.mutable_judge()->add_gates();
    SetGateFigures(g, gate);
    gate->set_detail(ValidUtf8(g.detail));
    for (const std::string& c : g.culprits) gate->add_culprits(ValidUtf8(c));
  }
  // "judge_5xx", "judge_log_errors"; a route gate status.proto has no field for is left out.
  auto& routes = *out.mutable_evidence()->mutable_routes();
  for (const GateResult& g : judgement.route_gates) {
    if (g.name == "5xx") SetRouteGate(g, routes[ValidUtf8(g.route)].mutable_judge_5xx());
    if (g.name == "log_errors") {
      SetRouteGate(g, routes[ValidUtf8(g.route)].mutable_judge_log_errors());
    }
  }
  return out;
}

// What a log count has grown by since `at_open`, route by route.
std::map<std::string, uint64_t> Since(const std::map<std::string, uint64_t>& now,
                                      const std::map<std::string, uint64_t>& at_open) {
  std::map<std::string, uint64_t> out;
  for (const auto& [route, count] : now) {
    auto it = at_open.find(route);
    const uint64_t before = it == at_open.end() ? 0 : it->second;
    if (count > before) out[route] = count - before;
  }
  return out;
}

}  // namespace

void Supervisor::PollLogs() {
  for (Slot* slot : {&running_, &testing_, &incoming_}) {
    Instance* inst = slot->instance.get();
    if (inst && inst->tail) inst->tail->Poll(inst->logs, inst->phase == Phase::kStarting);
  }
}

void Supervisor::ApplyPolicyOverride() {
  if (!deps_.policy_override) return;
  Config merged = config_;
  std::optional<ServicePolicy> policy = deps_.policy_override();
  if (policy) {
    merged.mutable_judge()->MergeFrom(policy->judge());
    merged.mutable_mirror()->MergeFrom(policy->mirror());
  }
  // A part that fails the config's checks is ignored, with a line saying why.
  for (const ConfigProblem& problem : CheckConfig(merged)) {
    if (problem.field_path.empty()) continue;
    const std::string& part = problem.field_path[0];
    if (part == "judge" || part == "mirror") {
      spdlog::error("meta's {} override for {} is ignored: {}", part, config_.service(),
                    problem.message);
      if (part == "judge") merged.mutable_judge()->CopyFrom(config_.judge());
      if (part == "mirror") merged.mutable_mirror()->CopyFrom(config_.mirror());
    }
  }
  judge_settings_ = JudgeSettingsFrom(merged);
  // The proxy gets a new mirror policy only when meta's override changed.
  const bool mirror_override = policy && policy->has_mirror();
  std::string key = mirror_override ? merged.mirror().SerializeAsString() : "";
  if (key != mirror_key_) {
    mirror_key_ = std::move(key);
    mirror_ = mirror_override
                  ? std::make_shared<const MirrorPolicy>(MirrorPolicyFrom(merged.mirror()))
                  : nullptr;
    spdlog::info("mirror policy for {}: {}", config_.service(),
                 mirror_ ? "meta's override" : "the config's");
    PublishUpstreams();
  }
}

void Supervisor::OpenEvidenceWindow(SteadyTime now) {
  window_ = Window();
  auto running = UpstreamOf(running_);
  auto testing = UpstreamOf(testing_);
  if (!running || !testing) {
    // The lifecycle opens a window only once both are up; a broken invariant, said loudly.
    spdlog::error("evidence window asked for, but running and testing are not both up");
    return;
  }
  ApplyPolicyOverride();
  window_.open = true;
  window_.started = now;
  window_.next_judgement = now;
  if (deps_.traffic) {
    window_.running_served = deps_.traffic->Served(*running);
    window_.testing_served = deps_.traffic->Served(*testing);
  }
  window_.running_errors = running_.instance->logs.errors;
  window_.running_warnings = running_.instance->logs.warnings;
  window_.running_routed_errors = running_.instance->logs.routed_errors;
  window_.running_route_errors = running_.instance->logs.route_errors;
  // Testing's startup counts against it, but not what it logged in an earlier window.
  if (testing_.instance->phase == Phase::kUp && testing_.instance->up_since < now) {
    window_.testing_errors = testing_.instance->logs.errors;
    window_.testing_warnings = testing_.instance->logs.warnings;
    window_.testing_routed_errors = testing_.instance->logs.routed_errors;
    window_.testing_route_errors = testing_.instance->logs.route_errors;
  }
  if (judge_settings_.drift_promotions > 0) {
    // The newest decisions are enough: the baseline pools at most drift_promotions of them.
    window_.baseline = PoolPromotions(ReadDecisionFolder(base_.env(), base_.DecisionsDir(), 200),
                                      judge_settings_.drift_promotions);
    spdlog::info("drift baseline for {}: {}", testing->version,
                 window_.baseline.versions.empty()
                     ? std::string("none (no promotion with rates recorded)")
                     : fmt::format("{}", fmt::join(window_.baseline.versions, ", ")));
  }
  if (deps_.evidence) deps_.evidence->Reset(testing->version);
  last_judgement_ = Judgement();
  last_reading_.Clear();
  spdlog::info("evidence window opened for candidate {} against running {}", testing->version,
               running->version);
}

void Supervisor::JudgeCandidate(SteadyTime now) {
  if (!window_.open || now < window_.next_judgement) return;
  if (!lifecycle_.state().incoming.version.empty()) return;
  auto running = UpstreamOf(running_);
  auto testing = UpstreamOf(testing_);
  if (!running || !testing) return;
  window_.next_judgement = now + Millis(500);
  Evidence e;
  e.window = std::chrono::duration_cast<std::chrono::seconds>(now - window_.started);
  if (deps_.evidence) {
    e.pairs = deps_.evidence->Stats();
    e.bodies = deps_.evidence->Bodies();
  }
  e.running_version = running->version;
  e.testing_version = testing->version;
  e.baseline = window_.baseline;
  const LogCounts& r = running_.instance->logs;
  e.running_logs.errors = r.errors - std::min(r.errors, window_.running_errors);
  e.running_logs.warnings = r.warnings - std::min(r.warnings, window_.running_warnings);
  e.running_logs.routed_errors =
      r.routed_errors - std::min(r.routed_errors, window_.running_routed_errors);
  e.running_logs.route_errors = Since(r.route_errors, window_.running_route_errors);
  e.running_kinds_ever = r.error_kinds;
  e.testing_logs = testing_.instance->logs;
  e.testing_logs.errors -= std::min(e.testing_logs.errors, window_.testing_errors);
  e.testing_logs.warnings -= std::min(e.testing_logs.warnings, window_.testing_warnings);
  e.testing_logs.routed_errors -=
      std::min(e.testing_logs.routed_errors, window_.testing_routed_errors);
  e.testing_logs.route_errors = Since(e.testing_logs.route_errors, window_.testing_route_errors);
  if (deps_.traffic) {
    auto since = [](uint64_t now_count, uint64_t at_open) {
      return now_count > at_open ? now_count - at_open : 0;
    };
    e.running_requests = since(deps_.traffic->Served(*running), window_.running_served);
    e.testing_requests = since(deps_.traffic->Served(*testing), window_.testing_served);
  }
  last_judgement_ = Judge(judge_settings_, e);
  last_reading_ = ReadingOf(e, last_judgement_);
  const PairCounts& total = e.pairs.total();
  window_.testing_rates =
      RatesOf(testing->version, total.pairs, total.testing_errors, e.testing_requests,
              e.testing_logs.errors + e.testing_logs.startup_errors, total.testing_latency);
  window_.running_rates = RatesOf(running->version, total.pairs, total.running_errors,
                                  e.running_requests, e.running_logs.errors, total.running_latency);
  if (last_judgement_.awaiting_person && !window_.told_awaiting_person) {
    spdlog::warn("candidate {} passed every gate and waits for a person: {}", testing->version,
                 last_judgement_.reason);
    window_.told_awaiting_person = true;
  }
  if (last_judgement_.verdict != JudgeVerdict::kWait) {
    Apply(Judged{last_judgement_.verdict, last_judgement_.reason}, now);
  }
}

void Supervisor::WriteDecision(const RecordDecision& what) {
  const std::string& from_version = what.from;
  const std::string& to_version = what.to;
  const Judgement* judgement = what.with_figures ? &last_judgement_ : nullptr;
  Decision decision;
  decision.set_service(config_.service());
  decision.set_host(deps_.host);
  decision.set_from_version(from_version);
  decision.set_to_version(to_version);
  decision.set_verdict(what.verdict);
  decision.set_time(WallTimeText());
  decision.set_reason(what.reason);
  decision.set_author(what.author);
  for (const std::string& change : live_changes_) decision.add_definition_changes(change);
  if (deps_.decision_provenance) deps_.decision_provenance(&decision);
  if (judgement) {
    auto fill = [](const GateResult& g, Gate* gate) {
      SetGateFigures(g, gate);
      if (!g.route.empty()) gate->set_route(g.route);
      gate->set_detail(g.detail);
      if (g.name == "latency") {
        gate->set_testing_p50_ms(g.testing_p50_ms);
        gate->set_testing_p95_ms(g.testing_p95_ms);
        gate->set_testing_p99_ms(g.testing_p99_ms);
        gate->set_running_p50_ms(g.running_p50_ms);
        gate->set_running_p95_ms(g.running_p95_ms);
        gate->set_running_p99_ms(g.running_p99_ms);
        gate->set_slower_share(g.slower_share);
      }
    };
    for (const GateResult& g : judgement->gates) {
      Gate* gate = decision.add_gates();
      fill(g, gate);
      for (const auto& c : g.culprits) {
        gate->add_culprits(c);
        if (g.name == "lost_routes") decision.add_lost_routes(c);
        if (g.name == "new_error_kinds") decision.add_new_error_kinds(c);
      }
    }
    for (const GateResult& g : judgement->route_gates) fill(g, decision.add_route_gates());
    for (const auto& route : judgement->worse_routes) decision.add_worse_routes(route);
  }
  if (window_.open) {
    decision.set_window_s(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(deps_.clock->Now() - window_.started)
            .count()));
    if (deps_.evidence) decision.set_pairs(deps_.evidence->Stats().total().pairs);
    // The rates each side showed: a promotion's testing_rates feed later drift baselines.
    if (window_.testing_rates.version() == to_version) {
      *decision.mutable_testing_rates() = window_.testing_rates;
      *decision.mutable_running_rates() = window_.running_rates;
    }
    for (const auto& v : window_.baseline.versions) decision.add_baseline_versions(v);
  }
  // Two decisions in one second get .2, .3, ...: a decision is never overwritten.
  const std::string stamp = FormatUtc(deps_.clock->WallNow(), "%Y%m%dT%H%M%SZ");
  fs::path path;
  for (int n = 1; n < 1000; ++n) {
    path = base_.DecisionsDir() / base_paths::DecisionFileName(stamp, from_version, to_version, n);
    auto existing = base_.env().Stat(path);
    const bool pending = std::any_of(unwritten_decisions_.begin(), unwritten_decisions_.end(),
                                     [&](const auto& d) { return d.first == path; });
    if (!existing && existing.error().is(ErrorCode::kNotFound) && !pending) break;
  }
  // A hand verdict may record more than one decision (a pin rejects the candidate too): its
  // reply names the first, the one about the verdict itself.
  if (applied_decision_id_.empty()) applied_decision_id_ = path.stem().string();
  CountDecision(what.verdict, what.author == "yoke" ? "yoke" : "operator");
  unwritten_decisions_.push_back({path, std::move(decision)});
  WriteDecisions();
}

// yoke_decisions_total{verdict,by}: one entry per (verdict, by) seen, in SupervisorCounters.
void Supervisor::CountDecision(Verdict verdict, const std::string& by) {
  std::string name = Verdict_Name(verdict);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (DecisionCount& d : *counters_.mutable_decisions()) {
    if (d.verdict() == name && d.by() == by) {
      d.set_count(d.count() + 1);
      return;
    }
  }
  DecisionCount* d = counters_.add_decisions();
  d->set_verdict(name);
  d->set_by(by);
  d->set_count(1);
}

void Supervisor::WriteDecisions() {
  while (!unwritten_decisions_.empty()) {
    const auto& [path, decision] = unwritten_decisions_.front();
    if (auto st = WriteTextRecord(base_.env(), path, decision); !st) {
      // Kept and written again at the next tick: a full disk must not lose a decision.
      if (!decision_write_failing_) {
        spdlog::error("cannot write decision (kept, retried every tick): {}", st.error().message());
      }
      decision_write_failing_ = true;
      return;
    }
    if (decision_write_failing_) spdlog::info("decision written: {}", path.string());
    decision_write_failing_ = false;
    unwritten_decisions_.erase(unwritten_decisions_.begin());
    decision_written_ = true;
  }
}

}  // namespace yoke
