// The loop itself: start and resume, the tick, intake, verdicts, promotion, retiring and
// archiving versions, the journal and the snapshot. Instances are in instances.cc, the judging
// window in judging.cc.
#include "supervisor/daemon/supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "base-layout/text_record.h"
#include "core/command.h"
#include "core/config_check.h"
#include "core/config_settings.h"
#include "core/ports.h"
#include "core/properties.h"
#include "core/version.h"

namespace yoke {
namespace fs = std::filesystem;

namespace {

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
      running_{kRunning, "", nullptr, false, {}, BackoffFrom(config_)},
      testing_{kTesting, "", nullptr, false, {}, BackoffFrom(config_)},
      incoming_{kRunning, "", nullptr, false, {}, BackoffFrom(config_)},
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
  if (auto st = ReadTextRecord(base_.env(), base_.JournalPath(), &journal); st) {
    have_journal = true;
  } else if (!st.error().is(ErrorCode::kNotFound)) {
    spdlog::warn("journal unreadable, rebuilding from the running/testing links: {}",
                 st.error().message());
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
    incoming_.backoff = BackoffFrom(config_);
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
  incoming_.backoff = BackoffFrom(config_);
  window_ = Window();
  journal_dirty_ = true;
}

void Supervisor::CompletePromotion(SteadyTime now) {
  std::unique_ptr<Instance> old = std::move(running_.instance);
  std::string old_version = running_.version;
  running_.version = incoming_.version;
  running_.instance = std::move(incoming_.instance);
  running_.proven = true;
  running_.backoff = BackoffFrom(config_);
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
    running_.backoff = BackoffFrom(config_);
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
  if (version.empty() || IsReferenced(version)) return;
  auto zip = base_.ArchiveVersion(version);
  if (!zip && zip.error().is(ErrorCode::kNotFound)) return;  // archived already, or never taken in
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
  if (auto st = WriteTextRecord(base_.env(), base_.JournalPath(), journal); !st) {
    spdlog::error("cannot write journal: {}", st.error().message());
    return;
  }
  journal_dirty_ = false;
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
