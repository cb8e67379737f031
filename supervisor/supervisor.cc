#include "supervisor/supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>

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

std::string FormatUtc(WallTime t, const char* format) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, format, &tm);
  return buffer;
}

Backoff MakeBackoff(const Config& config) {
  const auto& b = config.restart_backoff();
  return Backoff(Millis(b.initial_ms()), Millis(b.max_ms()), Millis(b.reset_after_ms()));
}

// Leaves a line in the instance's stderr file, where an operator looks first.
void NoteInStderr(const fs::path& dir, const std::string& line) {
  std::ofstream out(dir / "stderr", std::ios::app);
  out << "yoke: " << line << "\n";
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
      testing_{kTesting, "", nullptr, false, {}, MakeBackoff(config_)} {}

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
  TakeInDrops(now);
  WatchSlot(running_, now);
  WatchSlot(testing_, now);
  ReapStopping(now);
  StartDue(running_, now);
  StartDue(testing_, now);
  WriteJournal();
  PublishSnapshot();
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
    if (drop.version == running_.version || drop.version == testing_.version) {
      spdlog::warn("artifact {} is version {}, which is already {}; left where it is",
                   drop.path.string(), drop.version,
                   drop.version == running_.version ? kRunning : kTesting);
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
  } else {
    if (!testing_.version.empty()) {
      RejectCandidate("superseded by version " + version, Verdict::SUPERSEDE, now);
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
    for (const Slot* s : {&running_, &testing_}) {
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
    if (&slot == &testing_ && deps_.evidence) deps_.evidence->Reset(slot.version);
    PublishUpstreams();
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

  if (is_running) {
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

void Supervisor::RejectCandidate(const std::string& reason, Verdict verdict, SteadyTime now) {
  if (testing_.version.empty()) return;
  std::string version = testing_.version;
  RecordDecision(version, verdict, reason);
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
    if (auto exit = inst.child->Poll()) {
      if (inst.record.exit().empty()) inst.record.set_exit(exit->Describe());
      if (inst.record.stopped_at().empty()) inst.record.set_stopped_at(WallTimeText());
      WriteInstanceRecord(inst);
      spdlog::info("stopped {} instance {}/{:04} (pid {}): {}", inst.record.role(),
                   inst.record.version(), inst.record.number(), inst.record.pid(),
                   exit->Describe());
      std::string version = inst.record.version();
      bool archive = inst.archive_after_stop;
      it = stopping_.erase(it);
      journal_dirty_ = true;
      if (archive) ArchiveIfUnused(version);
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
  if (version == running_.version || version == testing_.version) return true;
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
  auto upstream = [](const Slot& slot) -> std::optional<Upstream> {
    if (!slot.instance || slot.instance->phase != Phase::kUp) return std::nullopt;
    return Upstream{"127.0.0.1", static_cast<uint16_t>(slot.instance->record.port()), slot.version};
  };
  UpstreamSnapshot snapshot{upstream(running_), upstream(testing_)};
  deps_.traffic->Publish(snapshot);
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
  for (const auto& inst : stopping_) *journal.add_stopping() = inst->record;
  if (auto st = WriteTextRecord(base_.JournalPath(), journal); !st) {
    spdlog::error("cannot write journal: {}", st.error().message());
    return;
  }
  journal_dirty_ = false;
}

void Supervisor::RecordDecision(const std::string& to_version, Verdict verdict,
                                const std::string& reason) {
  Decision decision;
  decision.set_service(config_.service());
  decision.set_host(deps_.host);
  decision.set_from_version(running_.version);
  decision.set_to_version(to_version);
  decision.set_verdict(verdict);
  decision.set_time(WallTimeText());
  decision.set_reason(reason);
  decision.set_author("yoke");
  std::string name = FormatUtc(deps_.clock->WallNow(), "%Y%m%dT%H%M%SZ") + "-" +
                     (running_.version.empty() ? "none" : running_.version) + "-to-" + to_version +
                     ".txtpb";
  fs::path path = base_.root() / "decisions" / name;
  for (int n = 2; fs::exists(path); ++n) {
    path = base_.root() / "decisions" /
           (name.substr(0, name.size() - 6) + "." + std::to_string(n) + ".txtpb");
  }
  if (auto st = WriteTextRecord(path, decision); !st) {
    spdlog::error("cannot write decision: {}", st.error().message());
  }
}

void Supervisor::Shutdown() {
  SteadyTime now = deps_.clock->Now();
  for (Slot* slot : {&testing_, &running_}) {
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
    }
  };
  role(running_, &snap.running);
  role(testing_, &snap.testing);
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = std::move(snap);
}

SupervisorSnapshot Supervisor::Snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
}

}  // namespace yoke
