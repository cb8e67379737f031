// The loop itself: start and resume, the tick, intake, verdicts, carrying out the lifecycle's
// actions (retiring, switching, archiving), the journal and the snapshot. Instances are in
// instances.cc, the judging window in judging.cc; the decisions are core/lifecycle.cc's. Over
// 500 lines because start-and-resume (with an upgrade's adoption) and the intake each need the
// slots, the lifecycle and the journal together.
#include "supervisor/daemon/supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "base-layout/text_record.h"
#include "core/clean_pass.h"
#include "core/command.h"
#include "core/config_settings.h"
#include "core/utf8.h"
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
      lifecycle_(LifecycleSettingsFrom(config_)),
      running_{LifecycleSlot::kRunning, kRunning, nullptr, {}},
      testing_{LifecycleSlot::kTesting, kTesting, nullptr, {}},
      incoming_{LifecycleSlot::kIncoming, kRunning, nullptr, {}},
      judge_settings_(JudgeSettingsFrom(config_)),
      log_format_(LogFormatFrom(config_)),
      archiver_(deps_.archiver) {
  if (!archiver_) {
    own_archiver_ = std::make_unique<Archiver>(
        [base = base_](const std::string& version) { return base.ArchiveVersion(version); },
        Archiver::Mode::kInline);
    archiver_ = own_archiver_.get();
  }
}

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

  // After an in-place upgrade (SIGUSR2: the same process exec'd a new image of yoke) the
  // instances are still this process's children: running and testing, if they were up, are
  // adopted as they are; any other (stopping, or starting) is told to stop and reaped here.
  // Whatever an earlier supervisor process left alive is stopped: this one starts its own.
  std::unique_ptr<Instance> adopted_running;
  std::unique_ptr<Instance> adopted_testing;
  const SteadyTime start_now = deps_.clock->Now();
  auto adopt = [&](const InstanceRecord& record) -> std::unique_ptr<Instance> {
    if (record.pid() <= 0 || !record.stopped_at().empty()) return nullptr;
    auto child = deps_.launcher->Adopt(record.pid(), record.start_ticks());
    if (!child) return nullptr;
    auto inst = std::make_unique<Instance>();
    inst->record = record;
    inst->dir = base_paths::InstancesDir(base_.root(), record.version()) /
                base_paths::InstanceDirName(record.number(), record.role());
    inst->child = std::move(*child);
    return inst;
  };
  std::vector<InstanceRecord> left;
  if (have_journal) {
    left.assign(journal.stopping().begin(), journal.stopping().end());
    if (journal.has_incoming()) left.push_back(journal.incoming());
    for (const InstanceRecord* record : {&journal.running(), &journal.testing()}) {
      std::unique_ptr<Instance> inst;
      if (!record->ready_at().empty()) inst = adopt(*record);
      if (!inst) {
        left.push_back(*record);
        continue;
      }
      (record == &journal.running() ? adopted_running : adopted_testing) = std::move(inst);
    }
  }
  for (const InstanceRecord& record : left) {
    if (record.pid() <= 0) continue;
    if (auto inst = adopt(record)) {
      // Ours but not adoptable as it is: stopped like any other, and reaped by the loop.
      spdlog::info("{} instance {}/{:04} (pid {}) is still a child after the upgrade: stopping it",
                   record.role(), record.version(), record.number(), record.pid());
      Stop(std::move(inst), start_now);
      continue;
    }
    if (StopStaleProcessGroup(record.pid(), record.start_ticks(), grace)) {
      spdlog::warn("stopped {} instance {}/{:04} (pid {}) left from before yoke restarted",
                   record.role(), record.version(), record.number(), record.pid());
    }
  }

  auto recover = [&](const char* role, const InstanceRecord* record) -> std::string {
    std::string version;
    if (record && !record->version().empty()) {
      version = record->version();
    } else if (auto target = base_.RoleTarget(role)) {
      // versions/<v>/instances/NNNN-role
      version = target->parent_path().parent_path().filename().string();
    }
    if (version.empty() || !base_.ArtifactOf(version)) return "";
    spdlog::info("resuming {} version {} from the journal", role, version);
    return version;
  };
  Resume resume;
  resume.running =
      recover(kRunning, have_journal && journal.has_running() ? &journal.running() : nullptr);
  resume.testing =
      recover(kTesting, have_journal && journal.has_testing() ? &journal.testing() : nullptr);
  if (have_journal && journal.has_incoming() && base_.ArtifactOf(journal.incoming().version())) {
    // A promotion was under way: its new running instance starts again.
    resume.incoming = journal.incoming().version();
    spdlog::info("resuming the promotion of {}", resume.incoming);
  }
  if (have_journal) {
    resume.pinned = journal.pinned();
    if (!journal.held().empty() && base_.ArtifactOf(journal.held())) resume.held = journal.held();
  }
  Apply(resume, deps_.clock->Now());
  AdoptInto(running_, std::move(adopted_running));
  AdoptInto(testing_, std::move(adopted_testing));

  // Version folders no slot claims: never started ones (a crash right after intake) are
  // candidates again; the others are finished with and go to the archive.
  for (const std::string& version : base_.ListVersions()) {
    if (IsReferenced(version)) continue;
    if (base_.ListInstanceDirs(version).empty() && base_.ArtifactOf(version)) {
      Apply(ArtifactArrived{version}, deps_.clock->Now());
    } else {
      ArchiveIfUnused(version);
    }
  }
  journal_dirty_ = true;
  WriteJournal();
  PublishSnapshot();
  return Ok();
}

void Supervisor::AdoptInto(Slot& slot, std::unique_ptr<Instance> inst) {
  if (!inst) return;
  const SteadyTime now = deps_.clock->Now();
  const InstanceRecord& record = inst->record;
  if (VersionOf(slot) != record.version() || slot.instance) {
    spdlog::warn("{} instance {}/{:04} (pid {}) was adopted but its role now holds {}: stopping it",
                 slot.role, record.version(), record.number(), record.pid(),
                 VersionOf(slot).empty() ? "nothing" : VersionOf(slot));
    Stop(std::move(inst), now);
    return;
  }
  inst->phase = Phase::kUp;
  // Up before this image started: what it logged until now belongs to the old image's window.
  inst->up_since = now - Millis(1);
  inst->tail = std::make_unique<LogTailer>(inst->dir, config_.json_log_glob(), log_format_);
  // Read what is there now (bounded: a service that logs faster than this reads is caught up
  // with by the loop's own polls).
  for (int i = 0; i < 64 && inst->tail->Poll(inst->logs, /*during_startup=*/false) > 0; ++i) {
  }
  spdlog::info("adopted {} instance {}/{:04} (pid {}, port {}) across the upgrade", slot.role,
               record.version(), record.number(), record.pid(), record.port());
  slot.instance = std::move(inst);
  PublishUpstreams();
  const bool window_was_possible = !lifecycle_.state().window_open;
  Apply(InstanceUp{slot.which}, now);
  if (window_was_possible && lifecycle_.state().window_open) {
    spdlog::info(
        "evidence window for candidate {} restarted after the upgrade: the old image's pairs and "
        "log counts are not carried across exec; the judge counts from now",
        lifecycle_.state().testing.version);
  }
}

void Supervisor::Tick() {
  SteadyTime now = deps_.clock->Now();
  CollectArchives();
  checked_this_tick_ = false;
  HandleManualVerdicts(now);
  HandleLiveFlags();
  TakeInDrops(now);
  PollLogs();
  WatchSlot(running_, now);
  WatchSlot(testing_, now);
  WatchSlot(incoming_, now);
  ReapStopping(now);
  ContainOrphans(now, /*force=*/false);
  RotateOutputs();
  StartDue(running_, now);
  StartDue(testing_, now);
  StartDue(incoming_, now);
  JudgeCandidate(now);
  WriteDecisions();
  WriteJournal();
  PublishSnapshot();
}

std::future<StatusOr<std::string>> Supervisor::RequestVerdict(ManualAction action,
                                                              std::string reason,
                                                              std::string author,
                                                              std::string version) {
  ManualRequest request{action, std::move(reason), std::move(author), std::move(version), {}};
  auto future = request.done.get_future();
  std::lock_guard lock(manual_mu_);
  manual_.push_back(std::move(request));
  return future;
}

void Supervisor::HandleManualVerdicts(SteadyTime now) {
  std::vector<ManualRequest> requests;
  {
    std::lock_guard lock(manual_mu_);
    requests.swap(manual_);
  }
  for (ManualRequest& request : requests) {
    ManualVerdict verdict{request.action, request.version, request.reason, request.author};
    if (request.action == ManualAction::kRollback || request.action == ManualAction::kRollbackNow) {
      // An archived version comes back before the rollback is decided; a refused one never does.
      if (auto st = lifecycle_.Check(verdict); !st) {
        request.done.set_value(std::unexpected(st.error()));
        continue;
      }
      // Its folder is being zipped: the rollback waits for the archive, then restores from it.
      if (archiver_->Busy(request.version)) {
        std::lock_guard lock(manual_mu_);
        manual_.push_back(std::move(request));
        continue;
      }
      if (!base_.ArtifactOf(request.version)) {
        auto restored =
            base_.RestoreVersion(request.version, RunsArtifactDirectly(config_.command()));
        if (!restored) {
          request.done.set_value(std::unexpected(restored.error()));
          continue;
        }
        spdlog::info("version {} restored from its archive into {}", request.version,
                     restored->string());
      }
    }
    if (request.action == ManualAction::kUnpin) {
      const std::string& held = lifecycle_.state().held;
      verdict.held_on_disk = held.empty() || base_.ArtifactOf(held).has_value();
    }
    applied_decision_id_.clear();
    Apply(verdict, now, &request.done);
  }
}

void Supervisor::Apply(const LifecycleEvent& event, SteadyTime now,
                       std::promise<StatusOr<std::string>>* reply) {
  const LifecycleState before = lifecycle_.state();
  std::vector<LifecycleAction> actions = lifecycle_.Apply(event, now);
  if (!actions.empty() || lifecycle_.state() != before) journal_dirty_ = true;
  for (const LifecycleAction& action : actions) Execute(action, now, reply);
}

void Supervisor::Execute(const LifecycleAction& action, SteadyTime now,
                         std::promise<StatusOr<std::string>>* reply) {
  if (auto* a = std::get_if<StartInstance>(&action)) {
    SlotOf(a->slot).next_start = a->at;
  } else if (auto* a = std::get_if<StopInstance>(&action)) {
    Retire(SlotOf(a->slot), now);
  } else if (auto* a = std::get_if<SwitchTraffic>(&action)) {
    SwitchToIncoming(a->to, now);
  } else if (std::holds_alternative<OpenWindow>(action)) {
    OpenEvidenceWindow(now);
  } else if (std::holds_alternative<CloseWindow>(action)) {
    window_ = Window();
  } else if (auto* a = std::get_if<Archive>(&action)) {
    ArchiveIfUnused(a->version);
  } else if (auto* a = std::get_if<RecordDecision>(&action)) {
    WriteDecision(*a);
  } else if (auto* a = std::get_if<Reply>(&action)) {
    if (reply) {
      // A hand verdict names its decision, so a script can `yoke decisions show` it.
      std::string text = a->text;
      if (a->ok && !applied_decision_id_.empty()) text += "\ndecision " + applied_decision_id_;
      reply->set_value(a->ok ? StatusOr<std::string>(text) : Fail(a->text));
    }
  } else if (auto* a = std::get_if<Note>(&action)) {
    switch (a->level) {
      case Note::kInfo:
        spdlog::info("{}", a->text);
        break;
      case Note::kWarn:
        spdlog::warn("{}", a->text);
        break;
      case Note::kError:
        spdlog::error("{}", a->text);
        break;
    }
  }
}

Supervisor::Slot& Supervisor::SlotOf(LifecycleSlot which) {
  switch (which) {
    case LifecycleSlot::kRunning:
      return running_;
    case LifecycleSlot::kTesting:
      return testing_;
    case LifecycleSlot::kIncoming:
      return incoming_;
  }
  return running_;
}

const std::string& Supervisor::VersionOf(const Slot& slot) const {
  const LifecycleState& state = lifecycle_.state();
  switch (slot.which) {
    case LifecycleSlot::kRunning:
      return state.running.version;
    case LifecycleSlot::kTesting:
      return state.testing.version;
    case LifecycleSlot::kIncoming:
      return state.incoming.version;
  }
  return state.running.version;
}

void Supervisor::SwitchToIncoming(const std::string& to, SteadyTime now) {
  std::unique_ptr<Instance> old = std::move(running_.instance);
  running_.instance = std::move(incoming_.instance);
  PublishUpstreams();
  spdlog::info("promotion complete: running is now {}", to);
  if (old && old->child) {
    old->phase = Phase::kDraining;
    old->drain_until = now + Millis(config_.proxy().drain_timeout_ms());
    stopping_.push_back(std::move(old));
  }
  // Without a process to drain, the old version is archived by the Archive action that follows.
  journal_dirty_ = true;
}

void Supervisor::CheckFreeSpace() {
  auto space = base_.env().FreeSpace(base_.root());
  if (!space) return;  // unknown: the floor does not stop the intake
  const uint64_t floor = FreeSpaceFloor(config_, space->total);
  const bool low = space->available < floor;
  if (low != disk_.low()) {
    if (low) {
      spdlog::warn(
          "free space in {} is {} bytes, below the floor of {} (intake.min_free_bytes, "
          "min_free_percent): no new candidate is taken in until space is freed",
          base_.root().string(), space->available, floor);
    } else {
      spdlog::info("free space in {} is {} bytes, above the floor of {} again: intake resumes",
                   base_.root().string(), space->available, floor);
    }
  }
  disk_.set_free_bytes(space->available);
  disk_.set_total_bytes(space->total);
  disk_.set_floor_bytes(floor);
  disk_.set_low(low);
}

void Supervisor::TakeInDrops(SteadyTime now) {
  const auto settle = Millis(config_.intake().settle_ms());
  std::map<fs::path, Settling> still_settling;
  std::map<fs::path, Settling> still_ignored;
  CheckFreeSpace();
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
    if (drop.size == 0) {
      spdlog::warn("artifact {} is empty: left where it is", drop.path.string());
      still_ignored[drop.path] = it->second;
      continue;
    }
    // Waits, settled, until space is freed, or until its version's old folder is archived.
    if (disk_.low() || archiver_->Busy(drop.version)) {
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
    counters_.set_artifacts_taken_in(counters_.artifacts_taken_in() + 1);
    spdlog::info("artifact taken in: version {} at {}", drop.version, taken->string());
    Apply(ArtifactArrived{drop.version}, now);
  }
  settling_ = std::move(still_settling);
  ignored_drops_ = std::move(still_ignored);
}

void Supervisor::Retire(Slot& slot, SteadyTime now) {
  if (auto st = base_.ClearRole(slot.role); !st) spdlog::error("{}", st.error().message());
  if (slot.instance && slot.instance->child) {
    Stop(std::move(slot.instance), now);
  } else {
    slot.instance.reset();
  }
  journal_dirty_ = true;
  PublishUpstreams();
}

bool Supervisor::IsReferenced(const std::string& version) const {
  if (lifecycle_.IsReferenced(version)) return true;
  for (const auto& inst : stopping_) {
    if (inst->record.version() == version) return true;
  }
  return false;
}

void Supervisor::ArchiveIfUnused(const std::string& version) {
  if (version.empty() || IsReferenced(version)) return;
  archiver_->Submit(version);
  CollectArchives();
}

void Supervisor::CollectArchives() {
  for (Archiver::Result& done : archiver_->TakeResults()) {
    const auto& zip = done.zip;
    if (!zip && zip.error().is(ErrorCode::kNotFound)) continue;  // archived already, or never in
    if (!zip) {
      spdlog::error("cannot archive version {}: {}", done.version, zip.error().message());
      continue;
    }
    counters_.set_versions_archived(counters_.versions_archived() + 1);
    spdlog::info("archived version {} to {}", done.version, zip->string());
    const std::vector<fs::path> deleted = base_.EnforceDiskBudget(config_.disk_budget_bytes());
    for (const fs::path& gone : deleted) {
      spdlog::warn("disk budget {} bytes exceeded: deleted oldest archive {}",
                   config_.disk_budget_bytes(), gone.string());
    }
    for (const fs::path& gone : base_.RemoveDefinitionsOf(deleted)) {
      spdlog::info("removed {}: its version has no folder or archive left", gone.string());
    }
  }
}

void Supervisor::WriteJournal() {
  if (!journal_dirty_) return;
  Journal journal;
  auto fill = [this](const Slot& slot, InstanceRecord* out) {
    if (slot.instance) {
      *out = slot.instance->record;
    } else {
      out->set_version(VersionOf(slot));
      out->set_role(slot.role);
    }
  };
  const LifecycleState& state = lifecycle_.state();
  if (!state.running.version.empty()) fill(running_, journal.mutable_running());
  if (!state.testing.version.empty()) fill(testing_, journal.mutable_testing());
  if (!state.incoming.version.empty()) fill(incoming_, journal.mutable_incoming());
  journal.set_pinned(state.pinned);
  journal.set_held(state.held);
  for (const auto& inst : stopping_) *journal.add_stopping() = inst->record;
  if (auto st = WriteTextRecord(base_.env(), base_.JournalPath(), journal); !st) {
    // The old journal stays whole; this one is written again at the next tick.
    if (!journal_write_failing_) {
      spdlog::error("cannot write journal (retried every tick): {}", st.error().message());
    }
    journal_write_failing_ = true;
    return;
  }
  if (journal_write_failing_) spdlog::info("journal written again");
  journal_write_failing_ = false;
  journal_dirty_ = false;
}

void Supervisor::Reload(const Config& config) {
  config_ = config;
  judge_settings_ = JudgeSettingsFrom(config_);
  ApplyPolicyOverride();
  PublishSnapshot();
}

Status Supervisor::PrepareUpgrade() {
  journal_dirty_ = true;
  WriteJournal();
  // WriteJournal leaves it dirty when the write failed (and said why in the log).
  if (journal_dirty_) return Fail("cannot write the journal the new image would adopt from");
  return Ok();
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
      Stop(std::move(slot->instance), now);
    } else {
      slot->instance.reset();
    }
  }
  // Bounded: every instance gets SIGKILL at its grace deadline, and a killed process exits.
  const auto deadline =
      deps_.clock->Now() + Millis(config_.stop_grace_ms()) + std::chrono::seconds(5);
  // Done when every instance is gone and no process any of them left (an orphan that left its
  // session) is alive either.
  while (deps_.clock->Now() < deadline) {
    ReapStopping(deps_.clock->Now());
    size_t strays = ContainOrphans(deps_.clock->Now(), /*force=*/true);
    if (stopping_.empty() && strays == 0) break;
    deps_.clock->SleepFor(Millis(20));
  }
  journal_dirty_ = true;
  WriteJournal();
  PublishSnapshot();
  spdlog::info("all instances stopped");
}

void Supervisor::PublishSnapshot() {
  StatusReport snap;
  SteadyTime now = deps_.clock->Now();
  if (window_.open) {
    snap = last_reading_;
    JudgeStatus* judge = snap.mutable_judge();
    judge->set_verdict(std::string(VerdictName(last_judgement_.verdict)));
    judge->set_reason(ValidUtf8(last_judgement_.reason));
    judge->set_window_s(
        std::chrono::duration_cast<std::chrono::seconds>(now - window_.started).count());
    judge->set_pairs(deps_.evidence ? deps_.evidence->Stats().total().pairs : 0);
    if (last_judgement_.awaiting_person) judge->set_awaiting_person(VersionOf(testing_));
  }
  *snap.mutable_supervisor() = counters_;
  *snap.mutable_disk() = disk_;
  // A role with no version is absent from /status.
  auto role = [this, now](const Slot& slot, RoleStatus* out) {
    out->set_version(VersionOf(slot));
    if (!slot.instance) return;
    const InstanceRecord& record = slot.instance->record;
    out->set_up(slot.instance->phase == Phase::kUp);
    if (out->up()) {
      out->set_uptime_s(
          std::chrono::duration_cast<std::chrono::seconds>(now - slot.instance->up_since).count());
    }
    out->set_port(record.port());
    out->set_pid(record.pid());
    out->set_instance(record.number());
    const LogCounts& logs = slot.instance->logs;
    out->mutable_log_lines()->set_read(logs.lines);
    out->mutable_log_lines()->set_not_json(logs.not_json);
    out->mutable_log_lines()->set_no_level(logs.no_level);
  };
  if (!VersionOf(running_).empty()) role(running_, snap.mutable_running());
  if (!VersionOf(testing_).empty()) role(testing_, snap.mutable_testing());
  const LifecycleState& state = lifecycle_.state();
  JudgeStatus* judge = snap.mutable_judge();
  judge->set_promoting(state.incoming.version);
  judge->set_min_window_s(judge_settings_.min_window.count());
  judge->set_min_pairs(judge_settings_.min_pairs);
  judge->set_clean_pass_pairs(static_cast<double>(CleanPassPairs(judge_settings_)));
  judge->set_max_window_s(judge_settings_.max_window.count());
  snap.set_pinned(state.pinned);
  snap.set_held(state.held);
  std::string roles = state.running.version + "\n" + state.testing.version;
  if (deps_.meta_notify && (decision_written_ || roles != meta_told_)) {
    deps_.meta_notify(state.running.version, state.testing.version);
    decision_written_ = false;
    meta_told_ = std::move(roles);
  }
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = std::move(snap);
}

StatusReport Supervisor::Snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

}  // namespace yoke
