#include "supervisor/supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "base-layout/text_record.h"
#include "core/command.h"
#include "core/config_check.h"
#include "core/ports.h"
#include "core/properties.h"
#include "core/version.h"

namespace yoke {
namespace fs = std::filesystem;

namespace {

constexpr const char* kRunning = "running";
constexpr const char* kTesting = "testing";

Backoff MakeBackoff(const Config& config) {
  const auto& b = config.restart_backoff();
  return Backoff(Millis(b.initial_ms()), Millis(b.max_ms()), Millis(b.reset_after_ms()));
}

// Leaves a line in the instance's stderr file, where an operator looks first.
void NoteInStderr(const fs::path& dir, const std::string& line) {
  std::ofstream out(dir / "stderr", std::ios::app);
  out << "yoke: " << line << "\n";
}

JudgeSettings JudgeSettingsFrom(const Config& config) {
  const auto& j = config.judge();
  JudgeSettings s;
  s.min_window = std::chrono::seconds(j.min_window_s());
  s.min_pairs = j.min_pairs();
  s.max_window = std::chrono::seconds(j.max_window_s());
  s.reject_at_max_window = j.reject_at_max_window();
  s.confidence = j.confidence();
  s.margin_5xx = s.margin_4xx = s.margin_log_errors = {j.relative_tolerance(), j.tolerance()};
  s.margin_log_warnings = {j.relative_tolerance(), j.warn_tolerance()};
  for (const GateMargin& m : j.margins()) {
    Margin* margin = m.gate() == "5xx"            ? &s.margin_5xx
                     : m.gate() == "4xx"          ? &s.margin_4xx
                     : m.gate() == "log_errors"   ? &s.margin_log_errors
                     : m.gate() == "log_warnings" ? &s.margin_log_warnings
                                                  : nullptr;
    if (!margin) continue;  // config_check reports it
    if (m.has_relative()) margin->relative = m.relative();
    if (m.has_floor()) margin->floor = m.floor();
  }
  s.route_min_pairs = j.route_min_pairs();
  s.min_events = j.min_events();
  s.lost_route_min = j.lost_route_min();
  s.new_kind_min = j.new_kind_min();
  s.max_latency_ratio = j.max_latency_ratio();
  return s;
}

LogFormat LogFormatFrom(const Config& config) {
  const auto& f = config.log_format();
  LogFormat format;
  auto take = [](const auto& field, std::vector<std::string>& out) {
    if (field.size() > 0) out.assign(field.begin(), field.end());
  };
  take(f.level_fields(), format.level_fields);
  take(f.error_values(), format.error_values);
  take(f.warn_values(), format.warn_values);
  take(f.message_fields(), format.message_fields);
  take(f.logger_fields(), format.logger_fields);
  take(f.route_fields(), format.route_fields);
  format.route_patterns.assign(config.proxy().routes().begin(), config.proxy().routes().end());
  return format;
}

const char* VerdictName(JudgeVerdict verdict) {
  switch (verdict) {
    case JudgeVerdict::kPromote:
      return "promote";
    case JudgeVerdict::kReject:
      return "reject";
    case JudgeVerdict::kWait:
      return "wait";
  }
  return "wait";
}

// Keeps what the status page shows of the judge's last look at the evidence.
void ReadingOf(const Evidence& e, const Judgement& judgement, SupervisorSnapshot* out) {
  out->running_logs = {e.running_logs.errors, e.running_logs.warnings, e.running_requests};
  out->testing_logs = {e.testing_logs.errors, e.testing_logs.warnings, e.testing_requests};
  out->new_error_kinds.clear();
  for (const auto& [kind, count] : e.testing_logs.error_kinds) {
    if (!e.running_kinds_ever.contains(kind)) out->new_error_kinds.emplace_back(kind, count);
  }
  std::stable_sort(out->new_error_kinds.begin(), out->new_error_kinds.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (out->new_error_kinds.size() > SupervisorSnapshot::kMaxNewKinds) {
    out->new_error_kinds.resize(SupervisorSnapshot::kMaxNewKinds);
  }
  out->judge_gates.clear();
  for (const GateResult& g : judgement.gates) {
    out->judge_gates.push_back({g.name, std::string(GateOutcomeName(g.outcome)), g.detail});
  }
  out->judge_route_gates = judgement.route_gates;
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

// The command's first word is the artifact itself: the artifact must be executable.
bool RunsArtifactDirectly(const std::string& command) {
  auto words = SplitCommand(command);
  return words && !words->empty() && (*words)[0] == "{artifact}";
}

}  // namespace

Supervisor::Supervisor(Config config, BaseFolder base, SupervisorDeps deps)
    : config_(std::move(config)),
      base_(std::move(base)),
      deps_(std::move(deps)),
      running_{kRunning, "", nullptr, false, {}, MakeBackoff(config_)},
      testing_{kTesting, "", nullptr, false, {}, MakeBackoff(config_)},
      incoming_{kRunning, "", nullptr, false, {}, MakeBackoff(config_)},
      judge_settings_(JudgeSettingsFrom(config_)),
      log_format_(LogFormatFrom(config_)) {}

Supervisor::~Supervisor() = default;

std::string Supervisor::WallTimeText() const {
  return FormatUtc(deps_.clock->WallNow(), "%Y-%m-%dT%H:%M:%SZ");
}

Status Supervisor::Start() {
  YOKE_RETURN_IF_ERROR(base_.Prepare());
  const auto grace = Millis(config_.stop_grace_ms());
  Journal journal;
  bool have_journal = false;
  if (fs::exists(base_.JournalPath())) {
    if (auto st = ReadTextRecord(base_.JournalPath(), &journal); st) {
      have_journal = true;
    } else {
      spdlog::warn("journal unreadable, rebuilding from the running/testing links: {}",
                   st.error().message());
    }
  }

  // Whatever an earlier supervisor left alive is stopped: this one starts its own instances.
  std::vector<InstanceRecord> left;
  if (have_journal) {
    left.assign(journal.stopping().begin(), journal.stopping().end());
    if (journal.has_running()) left.push_back(journal.running());
    if (journal.has_testing()) left.push_back(journal.testing());
    if (journal.has_incoming()) left.push_back(journal.incoming());
  }
  for (const InstanceRecord& record : left) {
    if (record.pid() <= 0) continue;
    if (StopStaleProcessGroup(record.pid(), record.start_ticks(), grace)) {
      spdlog::warn("stopped {} instance {}/{:04} (pid {}) left from before yoke restarted",
                   record.role(), record.version(), record.number(), record.pid());
    }
  }

  auto recover = [&](Slot& slot, const InstanceRecord* record) {
    std::string version;
    if (record && !record->version().empty()) {
      version = record->version();
    } else if (auto target = base_.RoleTarget(slot.role)) {
      // versions/<v>/instances/NNNN-role
      version = target->parent_path().parent_path().filename().string();
    }
    if (version.empty() || !base_.ArtifactOf(version)) return;
    slot.version = version;
    slot.proven = slot.role == std::string(kRunning);
    slot.next_start = deps_.clock->Now();
    spdlog::info("resuming {} version {} from the journal", slot.role, version);
  };
  recover(running_, have_journal && journal.has_running() ? &journal.running() : nullptr);
  recover(testing_, have_journal && journal.has_testing() ? &journal.testing() : nullptr);
  if (have_journal && journal.has_incoming() && base_.ArtifactOf(journal.incoming().version())) {
    // A promotion was under way: its new running instance starts again.
    incoming_.version = journal.incoming().version();
    incoming_.next_start = deps_.clock->Now();
    spdlog::info("resuming the promotion of {}", incoming_.version);
  }
  if (have_journal) {
    pinned_ = journal.pinned();
    if (base_.ArtifactOf(journal.held())) held_ = journal.held();
  }
  if (testing_.version == running_.version) testing_.version.clear();
  if (running_.version.empty() && !testing_.version.empty()) {
    std::swap(running_.version, testing_.version);
    running_.proven = false;
  }

  // Version folders no slot claims: never started ones (a crash right after intake) are
  // candidates again; the others are finished with and go to the archive.
  for (const std::string& version : base_.ListVersions()) {
    if (IsReferenced(version)) continue;
    if (base_.ListInstanceDirs(version).empty() && base_.ArtifactOf(version)) {
      AssignCandidate(version, deps_.clock->Now());
    } else {
      ArchiveIfUnused(version);
    }
  }
  journal_dirty_ = true;
  WriteJournal();
  PublishSnapshot();
  return Ok();
}

void Supervisor::Tick() {
  SteadyTime now = deps_.clock->Now();
  HandleManualVerdicts(now);
  TakeInDrops(now);
  PollLogs();
  WatchSlot(running_, now);
  WatchSlot(testing_, now);
  WatchSlot(incoming_, now);
  ReapStopping(now);
  StartDue(running_, now);
  StartDue(testing_, now);
  StartDue(incoming_, now);
  JudgeCandidate(now);
  WriteJournal();
  PublishSnapshot();
}

void Supervisor::PollLogs() {
  for (Slot* slot : {&running_, &testing_, &incoming_}) {
    Instance* inst = slot->instance.get();
    if (inst && inst->tail) inst->tail->Poll(inst->logs, inst->phase == Phase::kStarting);
  }
}

std::optional<Upstream> Supervisor::UpstreamOf(const Slot& slot) const {
  if (!slot.instance || slot.instance->phase != Phase::kUp) return std::nullopt;
  return Upstream{"127.0.0.1", static_cast<uint16_t>(slot.instance->record.port()), slot.version};
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

void Supervisor::OpenWindow(SteadyTime now) {
  window_ = Window();
  // During a promotion running is about to change: the window opens once it has.
  if (!incoming_.version.empty()) return;
  auto running = UpstreamOf(running_);
  auto testing = UpstreamOf(testing_);
  if (!running || !testing) return;
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
  if (deps_.evidence) deps_.evidence->Reset(testing_.version);
  last_judgement_ = Judgement();
  last_reading_ = SupervisorSnapshot();
  spdlog::info("evidence window opened for candidate {} against running {}", testing_.version,
               running_.version);
}

void Supervisor::JudgeCandidate(SteadyTime now) {
  if (!window_.open || now < window_.next_judgement || incoming_.version.size()) return;
  auto running = UpstreamOf(running_);
  auto testing = UpstreamOf(testing_);
  if (!running || !testing) return;
  window_.next_judgement = now + Millis(500);
  Evidence e;
  e.window = std::chrono::duration_cast<std::chrono::seconds>(now - window_.started);
  if (deps_.evidence) e.pairs = deps_.evidence->Stats();
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
  ReadingOf(e, last_judgement_, &last_reading_);
  if (last_judgement_.verdict == JudgeVerdict::kReject) {
    RejectCandidate(last_judgement_.reason, Verdict::REJECT, now, "judge", &last_judgement_);
  } else if (last_judgement_.verdict == JudgeVerdict::kPromote) {
    RecordDecision(testing_.version, Verdict::PROMOTE, last_judgement_.reason, "judge",
                   &last_judgement_);
    spdlog::info("candidate {} promoted: {}", testing_.version, last_judgement_.reason);
    BeginPromotion(now);
  }
}

std::future<StatusOr<std::string>> Supervisor::RequestVerdict(std::string action,
                                                              std::string reason,
                                                              std::string author,
                                                              std::string version) {
  ManualVerdict request{
      std::move(action), std::move(reason), std::move(author), std::move(version), {}};
  auto future = request.done.get_future();
  std::lock_guard lock(manual_mu_);
  manual_.push_back(std::move(request));
  return future;
}

void Supervisor::HandleManualVerdicts(SteadyTime now) {
  std::vector<ManualVerdict> requests;
  {
    std::lock_guard lock(manual_mu_);
    requests.swap(manual_);
  }
  for (ManualVerdict& request : requests) {
    const std::string reason = request.reason + " (by " + request.author + ")";
    if (request.action == "pin") {
      if (!incoming_.version.empty()) {
        request.done.set_value(
            Fail("a promotion to " + incoming_.version + " is under way; pin once it is done"));
        continue;
      }
      if (request.version != running_.version || running_.version.empty()) {
        request.done.set_value(Fail("only the running version can be pinned; running is " +
                                    (running_.version.empty() ? "none" : running_.version)));
        continue;
      }
      pinned_ = running_.version;
      RecordDecision(pinned_, Verdict::PIN, request.reason, request.author);
      if (!testing_.version.empty()) {
        RejectCandidate("running pinned to " + pinned_ + ": " + request.reason, Verdict::REJECT,
                        now, request.author);
      }
      spdlog::warn("running pinned to {}: {}", pinned_, reason);
      journal_dirty_ = true;
      request.done.set_value("pinned " + pinned_);
      continue;
    }
    if (request.action == "unpin") {
      if (pinned_.empty()) {
        request.done.set_value(Fail("nothing is pinned"));
        continue;
      }
      RecordDecision(pinned_, Verdict::PIN, "unpin: " + request.reason, request.author);
      spdlog::info("running unpinned from {}: {}", pinned_, reason);
      pinned_.clear();
      std::string held = std::move(held_);
      held_.clear();
      if (!held.empty() && base_.ArtifactOf(held)) AssignCandidate(held, now);
      journal_dirty_ = true;
      request.done.set_value(held.empty() ? "unpinned" : "unpinned; testing " + held);
      continue;
    }
    if (request.action == "rollback" || request.action == "rollback-now") {
      request.done.set_value(Rollback(request, request.action == "rollback-now", now));
      continue;
    }
    if (testing_.version.empty() || !incoming_.version.empty()) {
      request.done.set_value(Fail("there is no candidate under test"));
      continue;
    }
    const std::string version = testing_.version;
    if (request.action == "reject") {
      RejectCandidate(request.reason, Verdict::REJECT, now, request.author);
      spdlog::warn("candidate {} rejected by hand: {}", version, reason);
      request.done.set_value("rejected " + version);
    } else if (request.action == "promote") {
      RecordDecision(version, Verdict::PROMOTE, request.reason, request.author);
      spdlog::info("candidate {} promoted by hand: {}", version, reason);
      BeginPromotion(now);
      request.done.set_value("promoting " + version);
    } else {
      request.done.set_value(Fail("unknown action " + request.action));
    }
  }
}

StatusOr<std::string> Supervisor::Rollback(const ManualVerdict& request, bool now_flag,
                                           SteadyTime now) {
  const std::string& version = request.version;
  if (version.empty()) return Fail("say which version to roll back to");
  // It names folders and archives of the base: nothing but a version string may get there.
  if (!IsValidVersionString(version)) {
    return Fail("not a version: use letters, digits, '.', '_', '+' and '-' (at most 128)");
  }
  if (!incoming_.version.empty()) {
    return Fail("a promotion to " + incoming_.version + " is under way; roll back once it is done");
  }
  if (version == running_.version) return Fail(version + " is running already");
  if (version == testing_.version && !now_flag) return Fail(version + " is testing already");
  if (!pinned_.empty()) return Fail("running is pinned to " + pinned_ + "; unpin first");
  if (!base_.ArtifactOf(version)) {
    auto restored = base_.RestoreVersion(version, RunsArtifactDirectly(config_.command()));
    if (!restored) return std::unexpected(restored.error());
    spdlog::info("version {} restored from its archive into {}", version, restored->string());
  }
  RecordDecision(version, Verdict::ROLLBACK,
                 std::string(now_flag ? "at once: " : "as testing: ") + request.reason,
                 request.author);
  spdlog::warn("rollback to {} {} by {}: {}", version, now_flag ? "at once" : "as testing",
               request.author, request.reason);
  if (!now_flag || !running_.proven) {
    AssignCandidate(version, now);
    return "rolling back: " + version + (running_.proven ? " is testing" : " is running");
  }
  // At once: the version becomes running through the same no-drop switch as a promotion.
  if (!testing_.version.empty() && testing_.version != version) {
    RejectCandidate("superseded by a rollback to " + version, Verdict::SUPERSEDE, now,
                    request.author);
  }
  if (testing_.version == version) {
    BeginPromotion(now);
  } else {
    incoming_.version = version;
    incoming_.next_start = now;
    incoming_.backoff = MakeBackoff(config_);
    window_ = Window();
    journal_dirty_ = true;
  }
  return "rolling back: " + version + " is starting as running";
}

void Supervisor::BeginPromotion(SteadyTime now) {
  // Vili's order: stop testing, start a fresh running instance of the candidate, wait for it
  // to be healthy, switch, drain and stop the old running, archive the old version.
  std::string version = testing_.version;
  Retire(testing_, /*archive=*/false, now);
  incoming_.version = version;
  incoming_.next_start = now;
  incoming_.backoff = MakeBackoff(config_);
  window_ = Window();
  journal_dirty_ = true;
}

void Supervisor::CompletePromotion(SteadyTime now) {
  std::unique_ptr<Instance> old = std::move(running_.instance);
  std::string old_version = running_.version;
  running_.version = incoming_.version;
  running_.instance = std::move(incoming_.instance);
  running_.proven = true;
  running_.backoff = MakeBackoff(config_);
  incoming_.version.clear();
  incoming_.proven = false;
  PublishUpstreams();
  spdlog::info("promotion complete: running is now {}", running_.version);
  if (UpstreamOf(testing_)) OpenWindow(now);  // a candidate that arrived meanwhile
  if (old && old->child) {
    old->phase = Phase::kDraining;
    old->archive_after_stop = true;
    old->drain_until = now + Millis(config_.proxy().drain_timeout_ms());
    stopping_.push_back(std::move(old));
  } else {
    ArchiveIfUnused(old_version);
  }
  journal_dirty_ = true;
}

void Supervisor::TakeInDrops(SteadyTime now) {
  const auto settle = Millis(config_.intake().settle_ms());
  std::map<fs::path, Settling> still_settling;
  std::map<fs::path, Settling> still_ignored;
  for (const Drop& drop : base_.ScanDrops()) {
    auto ignored = ignored_drops_.find(drop.path);
    if (ignored != ignored_drops_.end() && ignored->second.size == drop.size &&
        ignored->second.mtime_ns == drop.mtime_ns) {
      still_ignored.insert(*ignored);
      continue;
    }
    auto it = settling_.find(drop.path);
    if (it == settling_.end() || it->second.size != drop.size ||
        it->second.mtime_ns != drop.mtime_ns) {
      if (it == settling_.end())
        spdlog::info("artifact seen: {} ({} bytes)", drop.path.string(), drop.size);
      still_settling[drop.path] = {drop.size, drop.mtime_ns, now};
      continue;
    }
    if (now - it->second.since < settle) {
      still_settling.insert(*it);
      continue;
    }
    if (IsReferenced(drop.version)) {
      spdlog::warn(
          "artifact {} is version {}, which yoke is running, testing or holding; left "
          "where it is",
          drop.path.string(), drop.version);
      still_ignored[drop.path] = it->second;
      continue;
    }
    auto taken = base_.TakeIn(drop, RunsArtifactDirectly(config_.command()));
    if (!taken) {
      spdlog::error("cannot take in artifact {}: {}", drop.path.string(), taken.error().message());
      still_ignored[drop.path] = it->second;
      continue;
    }
    ++counters_.artifacts_taken_in;
    spdlog::info("artifact taken in: version {} at {}", drop.version, taken->string());
    AssignCandidate(drop.version, now);
  }
  settling_ = std::move(still_settling);
  ignored_drops_ = std::move(still_ignored);
}

void Supervisor::AssignCandidate(const std::string& version, SteadyTime now) {
  if (running_.version.empty() || !running_.proven) {
    // Nothing proven serves yet, so there is nothing to compare against: the newest version
    // takes the running role outright.
    if (!running_.version.empty()) {
      spdlog::info("version {} replaces {}, which never became healthy", version, running_.version);
      Retire(running_, /*archive=*/true, now);
    }
    running_.version = version;
    running_.backoff = MakeBackoff(config_);
    running_.next_start = now;
  } else if (!pinned_.empty()) {
    // Pinned: the newest drop waits for `yoke unpin`; an older held one is let go.
    if (!held_.empty() && held_ != version) {
      std::string older = std::move(held_);
      held_.clear();
      ArchiveIfUnused(older);
    }
    held_ = version;
    spdlog::info("running is pinned to {}: version {} waits for unpin", pinned_, version);
  } else {
    if (!testing_.version.empty()) {
      RejectCandidate("superseded by version " + version, Verdict::SUPERSEDE, now, "yoke");
    }
    testing_.version = version;
    testing_.next_start = now;
  }
  journal_dirty_ = true;
}

void Supervisor::StartDue(Slot& slot, SteadyTime now) {
  if (slot.version.empty() || slot.instance || now < slot.next_start) return;
  auto instance = std::make_unique<Instance>();
  auto dir = base_.CreateInstanceDir(slot.version, slot.role);
  if (!dir) {
    spdlog::error("cannot prepare a {} instance of {}: {}", slot.role, slot.version,
                  dir.error().message());
    slot.instance = std::move(instance);
    OnInstanceFailed(slot, dir.error().message(), now);
    return;
  }
  instance->dir = *dir;
  instance->started = now;
  InstanceRecord& record = instance->record;
  record.set_version(slot.version);
  record.set_number(static_cast<uint32_t>(std::stoul(dir->filename().string())));
  record.set_role(slot.role);
  record.set_started_at(WallTimeText());
  slot.instance = std::move(instance);
  Instance& inst = *slot.instance;

  auto ours = [&](uint16_t port) {
    for (const Slot* s : {&running_, &testing_, &incoming_}) {
      if (s->instance && s->instance->record.port() == port) return true;
    }
    for (const auto& s : stopping_) {
      if (s->record.port() == port) return true;
    }
    return false;
  };
  auto port = PickPort({static_cast<uint16_t>(config_.port_range().first()),
                        static_cast<uint16_t>(config_.port_range().last())},
                       last_port_, [&](uint16_t p) { return !ours(p) && deps_.port_free(p); });
  if (!port) {
    OnInstanceFailed(slot,
                     "no free port in port_range " + std::to_string(config_.port_range().first()) +
                         "-" + std::to_string(config_.port_range().last()),
                     now);
    return;
  }
  last_port_ = *port;
  record.set_port(*port);

  if (config_.has_properties_file()) {
    fs::path source = config_.properties_file();
    if (source.is_relative()) source = base_.root() / source;
    auto text = ReadFile(source);
    if (!text) {
      OnInstanceFailed(slot, "properties_file: " + text.error().message(), now);
      return;
    }
    auto st = WriteFileAtomic(inst.dir / source.filename(),
                              RewritePropertiesPort(*text, config_.port_key(), *port));
    if (!st) {
      OnInstanceFailed(slot, st.error().message(), now);
      return;
    }
  }

  fs::path artifact = fs::absolute(*base_.ArtifactOf(slot.version));
  auto argv = ExpandCommand(config_.command(), {{"artifact", artifact.string()},
                                                {"port", std::to_string(*port)},
                                                {"instance_dir", inst.dir.string()},
                                                {"version", slot.version}});
  if (!argv) {
    OnInstanceFailed(slot, argv.error().message(), now);
    return;
  }
  LaunchSpec spec;
  spec.argv = *argv;
  for (const auto& [k, v] : config_.env()) spec.extra_env[k] = v;
  if (deps_.release_env) {
    for (const auto& [k, v] : deps_.release_env(slot.version)) spec.extra_env[k] = v;
  }
  spec.extra_env["PORT"] = std::to_string(*port);
  spec.extra_env["YOKE_SERVICE"] = config_.service();
  spec.extra_env["YOKE_VERSION"] = slot.version;
  spec.extra_env["YOKE_ROLE"] = slot.role;
  spec.extra_env["YOKE_INSTANCE_DIR"] = inst.dir.string();
  spec.working_dir = inst.dir;
  spec.stdout_path = inst.dir / "stdout";
  spec.stderr_path = inst.dir / "stderr";
  for (const auto& word : spec.argv) record.add_argv(word);
  for (const auto& [k, v] : spec.extra_env) (*record.mutable_env())[k] = v;

  ++counters_.instances_started;
  auto child = deps_.launcher->Launch(spec);
  if (!child) {
    OnInstanceFailed(slot, "cannot be executed: " + child.error().message(), now);
    return;
  }
  inst.child = std::move(*child);
  inst.tail = std::make_unique<LogTailer>(inst.dir, config_.json_log_glob(), log_format_);
  record.set_pid(inst.child->pid());
  record.set_start_ticks(ProcessStartTicks(inst.child->pid()).value_or(0));
  inst.health_deadline = now + Millis(config_.health().timeout_ms());
  inst.next_probe = now;
  WriteInstanceRecord(inst);
  journal_dirty_ = true;
  spdlog::info("started {} instance {}/{:04} pid {} port {}", slot.role, slot.version,
               record.number(), record.pid(), record.port());
}

void Supervisor::WatchSlot(Slot& slot, SteadyTime now) {
  if (!slot.instance || !slot.instance->child) return;
  Instance& inst = *slot.instance;
  std::optional<ExitInfo> exit = inst.child->Poll();
  if (exit) {
    inst.record.set_exit(exit->Describe());
    inst.record.set_stopped_at(WallTimeText());
    std::string when = inst.phase == Phase::kStarting ? "during startup" : "while up";
    spdlog::error("{} instance {}/{:04} (pid {}) exited {} with {}", slot.role, slot.version,
                  inst.record.number(), inst.record.pid(), when, exit->Describe());
    if (inst.phase == Phase::kUp && slot.role == std::string(kRunning)) ++counters_.running_crashes;
    OnInstanceFailed(
        slot,
        "exited " + when + " with " + exit->Describe() + "; see " + (inst.dir / "stderr").string(),
        now);
    return;
  }
  if (inst.phase != Phase::kStarting) return;
  // Probe on the interval, and once more at the deadline before giving up.
  if (now < inst.next_probe && now < inst.health_deadline) return;
  ProbeResult probe =
      deps_.probe->Check(static_cast<uint16_t>(inst.record.port()), config_.health().http_path(),
                         Millis(config_.health().probe_timeout_ms()));
  if (probe.healthy) {
    inst.phase = Phase::kUp;
    inst.up_since = now;
    inst.record.set_ready_at(WallTimeText());
    WriteInstanceRecord(inst);
    if (auto st = base_.PointRole(slot.role, inst.dir); !st)
      spdlog::error("{}", st.error().message());
    slot.proven = true;
    journal_dirty_ = true;
    if (&slot == &incoming_) {
      CompletePromotion(now);
      return;
    }
    PublishUpstreams();
    if (&slot == &testing_ || (&slot == &running_ && testing_.instance)) OpenWindow(now);
    spdlog::info("{} instance {}/{:04} is up on port {} ({})", slot.role, slot.version,
                 inst.record.number(), inst.record.port(), probe.detail);
    return;
  }
  if (now >= inst.health_deadline) {
    OnInstanceFailed(slot,
                     "not healthy within " + std::to_string(config_.health().timeout_ms()) +
                         " ms (last check: " + probe.detail + ")",
                     now);
    return;
  }
  inst.next_probe = now + Millis(config_.health().interval_ms());
}

void Supervisor::OnInstanceFailed(Slot& slot, const std::string& why, SteadyTime now) {
  std::unique_ptr<Instance> inst = std::move(slot.instance);
  const bool was_up = inst->phase == Phase::kUp;
  if (!inst->child || !was_up) ++counters_.start_failures;
  inst->record.set_error(why);
  if (inst->record.stopped_at().empty() && !inst->child)
    inst->record.set_stopped_at(WallTimeText());
  if (!inst->dir.empty()) {
    NoteInStderr(inst->dir, why);
    WriteInstanceRecord(*inst);
  }
  spdlog::error("{} instance of {} failed: {}", slot.role, slot.version, why);
  if (was_up) PublishUpstreams();
  const bool is_running = slot.role == std::string(kRunning);
  // A crash after a long healthy spell resets the backoff; a failed start never does.
  const SteadyTime up_since = was_up ? inst->up_since : now;
  if (inst->child && !inst->child->Poll()) {
    Stop(std::move(inst), /*archive_after=*/!is_running, now);
  }

  if (&slot == &incoming_) {
    // The promoted version would not start as running: stay on the old running.
    const std::string version = slot.version;
    slot.version.clear();
    RecordDecision(version, Verdict::REJECT,
                   "promotion failed: the new running instance did not start: " + why, "yoke");
    spdlog::error("promotion of {} failed; {} stays running", version, running_.version);
    ArchiveIfUnused(version);
  } else if (is_running) {
    if (window_.open) {
      spdlog::warn("running crashed during the evidence window: the window starts again");
      window_ = Window();
    }
    Millis delay = slot.backoff.OnCrash(up_since, now);
    slot.next_start = now + delay;
    int crashes = slot.backoff.consecutive_crashes();
    if (crashes >= 3) {
      spdlog::warn(
          "running version {} is in a crash loop: {} failures in a row; next start in "
          "{} ms",
          slot.version, crashes, delay.count());
    } else {
      spdlog::info("restarting running version {} in {} ms", slot.version, delay.count());
    }
  } else {
    RejectCandidate("testing instance failed: " + why, Verdict::REJECT, now);
  }
  journal_dirty_ = true;
}

void Supervisor::RejectCandidate(const std::string& reason, Verdict verdict, SteadyTime now,
                                 const std::string& author, const Judgement* judgement) {
  if (testing_.version.empty()) return;
  std::string version = testing_.version;
  RecordDecision(version, verdict, reason, author, judgement);
  window_ = Window();
  spdlog::warn("candidate {} {}: {}", version,
               verdict == Verdict::SUPERSEDE ? "superseded" : "rejected", reason);
  Retire(testing_, /*archive=*/true, now);
}

void Supervisor::Retire(Slot& slot, bool archive, SteadyTime now) {
  std::string version = std::move(slot.version);
  slot.version.clear();
  slot.proven = false;
  if (auto st = base_.ClearRole(slot.role); !st) spdlog::error("{}", st.error().message());
  if (slot.instance && slot.instance->child) {
    Stop(std::move(slot.instance), archive, now);
  } else {
    slot.instance.reset();
  }
  if (archive) ArchiveIfUnused(version);
  journal_dirty_ = true;
  PublishUpstreams();
}

void Supervisor::Stop(std::unique_ptr<Instance> instance, bool archive_after, SteadyTime now) {
  instance->phase = Phase::kStopping;
  instance->archive_after_stop = archive_after;
  instance->kill_at = now + Millis(config_.stop_grace_ms());
  instance->child->Signal(SIGTERM);
  spdlog::info("stopping {} instance {}/{:04} (pid {}): SIGTERM", instance->record.role(),
               instance->record.version(), instance->record.number(), instance->record.pid());
  stopping_.push_back(std::move(instance));
  journal_dirty_ = true;
}

void Supervisor::ReapStopping(SteadyTime now) {
  for (auto it = stopping_.begin(); it != stopping_.end();) {
    Instance& inst = **it;
    if (inst.phase == Phase::kDraining) {
      Upstream upstream{"127.0.0.1", static_cast<uint16_t>(inst.record.port()), ""};
      const bool drained = !deps_.traffic || deps_.traffic->InFlight(upstream) == 0;
      if (!drained && now < inst.drain_until) {
        ++it;
        continue;
      }
      spdlog::info("old running instance {}/{:04} {}: stopping it", inst.record.version(),
                   inst.record.number(), drained ? "has drained" : "did not drain in time");
      inst.phase = Phase::kStopping;
      inst.kill_at = now + Millis(config_.stop_grace_ms());
      inst.child->Signal(SIGTERM);
    }
    if (auto exit = inst.child->Poll()) {
      if (inst.record.exit().empty()) inst.record.set_exit(exit->Describe());
      if (inst.record.stopped_at().empty()) inst.record.set_stopped_at(WallTimeText());
      WriteInstanceRecord(inst);
      spdlog::info("stopped {} instance {}/{:04} (pid {}): {}", inst.record.role(),
                   inst.record.version(), inst.record.number(), inst.record.pid(),
                   exit->Describe());
      std::string version = inst.record.version();
      it = stopping_.erase(it);
      journal_dirty_ = true;
      // Whatever the reason it stopped, a version nothing refers to any more is archived.
      ArchiveIfUnused(version);
      continue;
    }
    if (!inst.killed && now >= inst.kill_at) {
      spdlog::warn("{} instance {}/{:04} (pid {}) did not stop within {} ms: SIGKILL",
                   inst.record.role(), inst.record.version(), inst.record.number(),
                   inst.record.pid(), config_.stop_grace_ms());
      inst.child->Signal(SIGKILL);
      inst.killed = true;
    }
    ++it;
  }
}

bool Supervisor::IsReferenced(const std::string& version) const {
  if (version == running_.version || version == testing_.version || version == incoming_.version ||
      version == held_) {
    return true;
  }
  for (const auto& inst : stopping_) {
    if (inst->record.version() == version) return true;
  }
  return false;
}

void Supervisor::ArchiveIfUnused(const std::string& version) {
  if (version.empty() || IsReferenced(version) || !fs::exists(base_.VersionDir(version))) return;
  auto zip = base_.ArchiveVersion(version);
  if (!zip) {
    spdlog::error("cannot archive version {}: {}", version, zip.error().message());
    return;
  }
  ++counters_.versions_archived;
  spdlog::info("archived version {} to {}", version, zip->string());
  for (const fs::path& gone : base_.EnforceDiskBudget(config_.disk_budget_bytes())) {
    spdlog::warn("disk budget {} bytes exceeded: deleted oldest archive {}",
                 config_.disk_budget_bytes(), gone.string());
  }
}

void Supervisor::PublishUpstreams() {
  if (!deps_.traffic) return;
  deps_.traffic->Publish({UpstreamOf(running_), UpstreamOf(testing_), mirror_});
}

void Supervisor::WriteInstanceRecord(const Instance& instance) {
  if (auto st = WriteTextRecord(instance.dir / "instance.txtpb", instance.record); !st) {
    spdlog::error("{}", st.error().message());
  }
}

void Supervisor::WriteJournal() {
  if (!journal_dirty_) return;
  Journal journal;
  auto fill = [](const Slot& slot, InstanceRecord* out) {
    if (slot.instance) {
      *out = slot.instance->record;
    } else {
      out->set_version(slot.version);
      out->set_role(slot.role);
    }
  };
  if (!running_.version.empty()) fill(running_, journal.mutable_running());
  if (!testing_.version.empty()) fill(testing_, journal.mutable_testing());
  if (!incoming_.version.empty()) fill(incoming_, journal.mutable_incoming());
  journal.set_pinned(pinned_);
  journal.set_held(held_);
  for (const auto& inst : stopping_) *journal.add_stopping() = inst->record;
  if (auto st = WriteTextRecord(base_.JournalPath(), journal); !st) {
    spdlog::error("cannot write journal: {}", st.error().message());
    return;
  }
  journal_dirty_ = false;
}

void Supervisor::RecordDecision(const std::string& to_version, Verdict verdict,
                                const std::string& reason, const std::string& author,
                                const Judgement* judgement) {
  Decision decision;
  decision.set_service(config_.service());
  decision.set_host(deps_.host);
  decision.set_from_version(running_.version);
  decision.set_to_version(to_version);
  decision.set_verdict(verdict);
  decision.set_time(WallTimeText());
  decision.set_reason(reason);
  decision.set_author(author);
  if (judgement) {
    auto fill = [](const GateResult& g, Gate* gate) {
      gate->set_name(g.name);
      if (!g.route.empty()) gate->set_route(g.route);
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
      gate->set_detail(g.detail);
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
  }
  // Versions may be 128 characters: keep file names well under the 255-byte limit.
  auto shorten = [](const std::string& v) { return v.size() > 80 ? v.substr(0, 80) : v; };
  std::string name = FormatUtc(deps_.clock->WallNow(), "%Y%m%dT%H%M%SZ") + "-" +
                     (running_.version.empty() ? "none" : shorten(running_.version)) + "-to-" +
                     shorten(to_version) + ".txtpb";
  fs::path path = base_.root() / "decisions" / name;
  std::error_code ec;
  for (int n = 2; fs::exists(path, ec) && n < 1000; ++n) {
    path = base_.root() / "decisions" /
           (name.substr(0, name.size() - 6) + "." + std::to_string(n) + ".txtpb");
  }
  if (auto st = WriteTextRecord(path, decision); !st) {
    spdlog::error("cannot write decision: {}", st.error().message());
  }
  decision_written_ = true;
}

void Supervisor::Shutdown() {
  SteadyTime now = deps_.clock->Now();
  for (auto& inst : stopping_) {
    if (inst->phase == Phase::kDraining) {
      inst->phase = Phase::kStopping;
      inst->kill_at = now + Millis(config_.stop_grace_ms());
      inst->child->Signal(SIGTERM);
    }
  }
  for (Slot* slot : {&testing_, &incoming_, &running_}) {
    if (slot->instance && slot->instance->child) {
      Stop(std::move(slot->instance), false, now);
    } else {
      slot->instance.reset();
    }
  }
  // Bounded: every instance gets SIGKILL at its grace deadline, and a killed process exits.
  auto deadline =
      std::chrono::steady_clock::now() + Millis(config_.stop_grace_ms()) + std::chrono::seconds(5);
  while (!stopping_.empty() && std::chrono::steady_clock::now() < deadline) {
    ReapStopping(deps_.clock->Now());
    if (!stopping_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  journal_dirty_ = true;
  WriteJournal();
  PublishSnapshot();
  spdlog::info("all instances stopped");
}

void Supervisor::PublishSnapshot() {
  SupervisorSnapshot snap = counters_;
  SteadyTime now = deps_.clock->Now();
  auto role = [now](const Slot& slot, SupervisorSnapshot::Role* out) {
    out->version = slot.version;
    if (slot.instance) {
      out->up = slot.instance->phase == Phase::kUp;
      if (out->up) {
        out->uptime_s =
            std::chrono::duration_cast<std::chrono::seconds>(now - slot.instance->up_since).count();
      }
      out->port = static_cast<uint16_t>(slot.instance->record.port());
      out->pid = slot.instance->record.pid();
      out->instance = slot.instance->record.number();
      const LogCounts& logs = slot.instance->logs;
      out->log_lines = logs.lines;
      out->log_lines_not_json = logs.not_json;
      out->log_lines_no_level = logs.no_level;
    }
  };
  role(running_, &snap.running);
  role(testing_, &snap.testing);
  snap.promoting = incoming_.version;
  snap.pinned = pinned_;
  snap.held = held_;
  snap.min_window_s = judge_settings_.min_window.count();
  snap.min_pairs = judge_settings_.min_pairs;
  if (window_.open) {
    snap.judge_verdict = VerdictName(last_judgement_.verdict);
    snap.judge_reason = last_judgement_.reason;
    snap.window_s = std::chrono::duration_cast<std::chrono::seconds>(now - window_.started).count();
    snap.window_pairs = deps_.evidence ? deps_.evidence->Stats().total().pairs : 0;
    snap.running_logs = last_reading_.running_logs;
    snap.testing_logs = last_reading_.testing_logs;
    snap.new_error_kinds = last_reading_.new_error_kinds;
    snap.judge_gates = last_reading_.judge_gates;
    snap.judge_route_gates = last_reading_.judge_route_gates;
  }
  std::string roles = running_.version + "\n" + testing_.version;
  if (deps_.meta_notify && (decision_written_ || roles != meta_told_)) {
    deps_.meta_notify(running_.version, testing_.version);
    decision_written_ = false;
    meta_told_ = std::move(roles);
  }
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = std::move(snap);
}

SupervisorSnapshot Supervisor::Snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

}  // namespace yoke
