// The Supervisor's instances: starting one, watching it come up and stay up, failures and
// restarts, stopping and reaping, and telling the proxy which instances take traffic.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "base-layout/text_record.h"
#include "core/command.h"
#include "core/config_check.h"
#include "core/config_settings.h"
#include "core/definition.h"
#include "core/ports.h"
#include "core/properties.h"
#include "core/version.h"
#include "supervisor/daemon/instance_definition.h"
#include "supervisor/daemon/output_rotation.h"
#include "supervisor/daemon/supervisor.h"

namespace yoke {
namespace fs = std::filesystem;

namespace {

// Leaves a line in the instance's stderr file, where an operator looks first.
void NoteInStderr(const fs::path& dir, const std::string& line) {
  std::ofstream out(dir / "stderr", std::ios::app);
  out << "yoke: " << line << "\n";
}

}  // namespace

std::optional<Upstream> Supervisor::UpstreamOf(const Slot& slot) const {
  if (!slot.instance || slot.instance->phase != Phase::kUp) return std::nullopt;
  return Upstream{"127.0.0.1", static_cast<uint16_t>(slot.instance->record.port()),
                  slot.instance->record.version()};
}

void Supervisor::StartDue(Slot& slot, SteadyTime now) {
  // A copy: a failure below changes the lifecycle's state.
  const std::string version = VersionOf(slot);
  if (version.empty() || slot.instance || now < slot.next_start) return;
  auto instance = std::make_unique<Instance>();
  auto dir = base_.CreateInstanceDir(version, slot.role);
  if (!dir) {
    spdlog::error("cannot prepare a {} instance of {}: {}", slot.role, version,
                  dir.error().message());
    slot.instance = std::move(instance);
    OnInstanceFailed(slot, dir.error().message(), /*exited=*/false, now);
    return;
  }
  instance->dir = *dir;
  InstanceRecord& record = instance->record;
  record.set_version(version);
  record.set_number(base_paths::InstanceNumber(dir->filename().string()));
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
                     /*exited=*/false, now);
    return;
  }
  last_port_ = *port;
  record.set_port(*port);

  if (config_.has_properties_file()) {
    fs::path source = config_.properties_file();
    if (source.is_relative()) source = base_.root() / source;
    auto text = base_.env().ReadFile(source);
    if (!text) {
      OnInstanceFailed(slot, "properties_file: " + text.error().message(), /*exited=*/false, now);
      return;
    }
    auto st = base_.env().WriteFileAtomic(inst.dir / source.filename(),
                                          RewritePropertiesPort(*text, config_.port_key(), *port));
    if (!st) {
      OnInstanceFailed(slot, st.error().message(), /*exited=*/false, now);
      return;
    }
  }

  // Meta's definition for this version: env, flags, properties, secrets, templates.
  InstanceFacts facts;
  facts.version = version;
  facts.role = slot.role;
  facts.port = *port;
  facts.dir = inst.dir;
  facts.service = config_.service();
  facts.env = config_.meta().env();
  facts.host = deps_.host;
  facts.channel = config_.meta().channel();
  if (config_.has_properties_file()) {
    facts.properties_file = fs::path(config_.properties_file()).filename().string();
  }
  auto defined = ApplyDefinition(base_.env(), base_.root(), facts, config_.secrets());
  if (!defined) {
    OnInstanceFailed(slot, defined.error().message(), /*exited=*/false, now);
    return;
  }

  auto found = base_.ArtifactOf(version);
  std::error_code ec;
  fs::path artifact = found ? fs::absolute(*found, ec) : fs::path();
  if (!found || ec) {
    OnInstanceFailed(slot, "the artifact of " + version + " is gone from " + inst.dir.string(),
                     /*exited=*/false, now);
    return;
  }
  auto argv = ExpandCommand(config_.command(), {{"artifact", artifact.string()},
                                                {"port", std::to_string(*port)},
                                                {"instance_dir", inst.dir.string()},
                                                {"version", version}});
  if (!argv) {
    OnInstanceFailed(slot, argv.error().message(), /*exited=*/false, now);
    return;
  }
  LaunchSpec spec;
  spec.argv = *argv;
  for (const auto& [k, v] : config_.env()) spec.extra_env[k] = v;
  if (deps_.release_env) {
    for (const auto& [k, v] : deps_.release_env(version)) spec.extra_env[k] = v;
  }
  for (const auto& [k, v] : defined->env) spec.extra_env[k] = v;
  spec.extra_env["PORT"] = std::to_string(*port);
  spec.extra_env["YOKE_SERVICE"] = config_.service();
  spec.extra_env["YOKE_VERSION"] = ReleaseOf(version);
  spec.extra_env["YOKE_ROLE"] = slot.role;
  spec.extra_env["YOKE_INSTANCE_DIR"] = inst.dir.string();
  spec.working_dir = inst.dir;
  spec.stdout_path = inst.dir / "stdout";
  spec.stderr_path = inst.dir / "stderr";
  for (const auto& word : spec.argv) record.add_argv(word);
  // A secret's value never reaches instance.txtpb (or the archive holding it).
  for (const auto& [k, v] : spec.extra_env) {
    (*record.mutable_env())[k] = defined->secret_vars.contains(k) ? "(secret)" : v;
  }

  counters_.set_instances_started(counters_.instances_started() + 1);
  auto child = deps_.launcher->Launch(spec);
  if (!child) {
    OnInstanceFailed(slot, "cannot be executed: " + child.error().message(), /*exited=*/false, now);
    return;
  }
  inst.child = std::move(*child);
  inst.tail = std::make_unique<LogTailer>(inst.dir, config_.json_log_glob(), log_format_,
                                          config_.max_json_log_files());
  record.set_pid(inst.child->pid());
  record.set_start_ticks(ProcessStartTicks(inst.child->pid()).value_or(0));
  inst.health_deadline = now + Millis(config_.health().timeout_ms());
  inst.next_probe = now;
  WriteInstanceRecord(inst);
  journal_dirty_ = true;
  spdlog::info("started {} instance {}/{:04} pid {} port {}", slot.role, version, record.number(),
               record.pid(), record.port());
}

void Supervisor::WatchSlot(Slot& slot, SteadyTime now) {
  if (!slot.instance || !slot.instance->child) return;
  Instance& inst = *slot.instance;
  const std::string& version = inst.record.version();
  std::optional<ExitInfo> exit = inst.child->Poll();
  // A daemonizing service: its first process exits 0 once the daemon runs; the daemon's pid
  // comes from the pid file (waited for until the health deadline).
  if (exit && !config_.pid_file().empty() && !inst.adopted && inst.phase == Phase::kStarting &&
      exit->signal == 0 && exit->exit_code == 0 && !exit->unknown) {
    if (!inst.awaiting_pid_file) {
      inst.awaiting_pid_file = true;
      spdlog::info("{} instance {}/{:04}: pid {} exited 0; waiting for its daemon's pid in {}",
                   slot.role, version, inst.record.number(), inst.record.pid(), config_.pid_file());
    }
    if (AdoptFromPidFile(inst)) {
      exit.reset();
    } else if (now >= inst.health_deadline) {
      OnInstanceFailed(slot,
                       "exited with exit code 0 and no daemon's pid appeared in " +
                           (inst.dir / config_.pid_file()).string() + " within " +
                           std::to_string(config_.health().timeout_ms()) + " ms (" +
                           inst.pid_file_problem + ")",
                       /*exited=*/true, now);
      return;
    } else {
      return;
    }
  }
  if (exit) {
    inst.record.set_exit(exit->Describe());
    inst.record.set_stopped_at(WallTimeText());
    std::string when = inst.phase == Phase::kStarting ? "during startup" : "while up";
    spdlog::error("{} instance {}/{:04} (pid {}) exited {} with {}", slot.role, version,
                  inst.record.number(), inst.record.pid(), when, exit->Describe());
    if (inst.phase == Phase::kUp && slot.role == std::string(kRunning))
      counters_.set_running_crashes(counters_.running_crashes() + 1);
    OnInstanceFailed(
        slot,
        "exited " + when + " with " + exit->Describe() + "; see " + (inst.dir / "stderr").string(),
        /*exited=*/true, now);
    return;
  }
  if (inst.phase == Phase::kUp) {
    CheckUp(slot, now);
    return;
  }
  if (inst.phase != Phase::kStarting) return;
  // A daemonizing service may answer before its first process exits (nginx listens, then
  // forks): it is up only once its daemon is adopted from the pid file.
  if (!config_.pid_file().empty() && !inst.adopted) {
    if (now >= inst.health_deadline) {
      OnInstanceFailed(slot,
                       "its first process did not exit within " +
                           std::to_string(config_.health().timeout_ms()) +
                           " ms (pid_file is set: the service must daemonize, its first process "
                           "exiting 0)",
                       /*exited=*/false, now);
    }
    return;
  }
  // Probe on the interval, and once more at the deadline before giving up.
  if (now < inst.next_probe && now < inst.health_deadline) return;
  ProbeResult probe =
      deps_.probe->Check(static_cast<uint16_t>(inst.record.port()), config_.health().http_path(),
                         Millis(config_.health().probe_timeout_ms()));
  if (probe.healthy) {
    inst.phase = Phase::kUp;
    inst.up_since = now;
    inst.next_check = now + Millis(config_.health().check_interval_ms());
    inst.record.set_ready_at(WallTimeText());
    WriteInstanceRecord(inst);
    if (auto st = base_.PointRole(slot.role, inst.dir); !st)
      spdlog::error("{}", st.error().message());
    journal_dirty_ = true;
    if (&slot == &incoming_) {
      Apply(InstanceUp{slot.which}, now);  // the switch
      return;
    }
    PublishUpstreams();
    Apply(InstanceUp{slot.which}, now);  // the window may open
    spdlog::info("{} instance {}/{:04} is up on port {} ({})", slot.role, version,
                 inst.record.number(), inst.record.port(), probe.detail);
    return;
  }
  if (now >= inst.health_deadline) {
    OnInstanceFailed(slot,
                     "not healthy within " + std::to_string(config_.health().timeout_ms()) +
                         " ms (last check: " + probe.detail + ")",
                     /*exited=*/false, now);
    return;
  }
  inst.next_probe = now + Millis(config_.health().interval_ms());
}

void Supervisor::CheckUp(Slot& slot, SteadyTime now) {
  Instance& inst = *slot.instance;
  const uint32_t interval = config_.health().check_interval_ms();
  if (interval == 0 || now < inst.next_check || checked_this_tick_) return;
  checked_this_tick_ = true;
  ProbeResult probe =
      deps_.probe->Check(static_cast<uint16_t>(inst.record.port()), config_.health().http_path(),
                         Millis(config_.health().probe_timeout_ms()));
  inst.next_check = now + Millis(interval);
  if (probe.healthy) {
    if (inst.check_failures > 0) {
      spdlog::info("{} instance {}/{:04} answers its health check again", slot.role,
                   inst.record.version(), inst.record.number());
    }
    inst.check_failures = 0;
    return;
  }
  ++inst.check_failures;
  counters_.set_health_check_failures(counters_.health_check_failures() + 1);
  const uint32_t threshold = std::max<uint32_t>(1, config_.health().failure_threshold());
  spdlog::warn("{} instance {}/{:04} (pid {}) failed its health check ({} of {} in a row): {}",
               slot.role, inst.record.version(), inst.record.number(), inst.record.pid(),
               inst.check_failures, threshold, probe.detail);
  if (inst.check_failures < threshold) return;
  if (slot.role == std::string(kRunning)) {
    counters_.set_running_crashes(counters_.running_crashes() + 1);
  }
  // Restarted like a crash: the lifecycle decides (a running version after its backoff).
  OnInstanceFailed(slot,
                   "stopped answering its health check: " + std::to_string(inst.check_failures) +
                       " failed in a row (last: " + probe.detail + ")",
                   /*exited=*/true, now);
}

void Supervisor::OnInstanceFailed(Slot& slot, const std::string& why, bool exited, SteadyTime now) {
  const std::string version = VersionOf(slot);
  std::unique_ptr<Instance> inst = std::move(slot.instance);
  const bool was_up = inst->phase == Phase::kUp;
  if (!inst->child || !was_up) counters_.set_start_failures(counters_.start_failures() + 1);
  inst->record.set_error(why);
  if (inst->record.stopped_at().empty() && !inst->child)
    inst->record.set_stopped_at(WallTimeText());
  if (!inst->dir.empty()) {
    NoteInStderr(inst->dir, why);
    WriteInstanceRecord(*inst);
  }
  spdlog::error("{} instance of {} failed: {}", slot.role, version, why);
  if (was_up) PublishUpstreams();
  // Even when its main process has exited, what it started may be left: stopped like the rest.
  if (inst->child) Stop(std::move(inst), now);
  journal_dirty_ = true;
  // What comes of it (a restart after backoff, a rejection, a failed promotion) is decided by
  // the lifecycle.
  if (exited) {
    Apply(InstanceExited{slot.which, why}, now);
  } else {
    Apply(StartFailed{slot.which, why}, now);
  }
}

void Supervisor::Stop(std::unique_ptr<Instance> instance, SteadyTime now) {
  instance->phase = Phase::kStopping;
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
    // Stopped only when nothing of it is left, its main process and everything it started.
    if (inst.child->Gone()) {
      auto exit = inst.child->Poll();
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

bool Supervisor::AdoptFromPidFile(Instance& inst) {
  auto text = base_.env().ReadFile(inst.dir / config_.pid_file());
  if (!text) {
    inst.pid_file_problem = text.error().message();
    return false;
  }
  char* end = nullptr;
  long pid = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || pid <= 1 || pid > std::numeric_limits<pid_t>::max()) {
    inst.pid_file_problem = "the pid file holds no pid";
    return false;
  }
  const pid_t leader = inst.record.pid();
  if (auto st = inst.child->Adopt(static_cast<pid_t>(pid)); !st) {
    // Perhaps not ours yet (the daemon may still be forking): tried again next tick.
    inst.pid_file_problem = st.error().message();
    return false;
  }
  inst.adopted = true;
  inst.awaiting_pid_file = false;
  inst.record.set_pid(static_cast<int32_t>(pid));
  inst.record.set_start_ticks(ProcessStartTicks(static_cast<pid_t>(pid)).value_or(0));
  WriteInstanceRecord(inst);
  journal_dirty_ = true;
  spdlog::info("{} instance {}/{:04}: adopted pid {} from {} (its leader pid {} exited 0)",
               inst.record.role(), inst.record.version(), inst.record.number(), pid,
               config_.pid_file(), leader);
  return true;
}

size_t Supervisor::ContainOrphans(SteadyTime now, bool force) {
  std::vector<OrphanProcess> orphans = deps_.launcher->ReapOrphans();
  if (orphans.empty()) {
    strays_.clear();
    return 0;
  }
  std::set<pid_t> claimed;
  bool awaiting = false;
  auto claim = [&](const Instance& inst) {
    if (!inst.child) return;
    for (pid_t session : inst.child->Sessions()) claimed.insert(session);
    // A daemonizing service still starting: its daemon may be reparented to yoke before this
    // tick has seen its first process exit.
    awaiting = awaiting || inst.awaiting_pid_file ||
               (!config_.pid_file().empty() && !inst.adopted && inst.phase == Phase::kStarting);
  };
  for (const Slot* slot : {&running_, &testing_, &incoming_}) {
    if (slot->instance) claim(*slot->instance);
  }
  for (const auto& inst : stopping_) claim(*inst);
  std::map<pid_t, Stray> still;
  for (const OrphanProcess& orphan : orphans) {
    if (claimed.contains(orphan.session)) continue;  // its instance stops it
    // A daemon not yet named in its pid file is such an orphan for a moment.
    if (awaiting && !force) continue;
    auto it = strays_.find(orphan.pid);
    if (it == strays_.end() || it->second.start_ticks != orphan.start_ticks) {
      // Our child and not reaped: its pid names it until ContainOrphans reaps it.
      spdlog::warn(
          "process {} ({}, session {}) was left by an instance (it left its session); "
          "stopping it: SIGTERM",
          orphan.pid, orphan.name, orphan.session);
      ::kill(orphan.pid, SIGTERM);
      still[orphan.pid] = {orphan.start_ticks, now + Millis(config_.stop_grace_ms()), false};
      continue;
    }
    Stray stray = it->second;
    if (!stray.killed && now >= stray.kill_at) {
      spdlog::warn("process {} ({}) did not stop within {} ms: SIGKILL", orphan.pid, orphan.name,
                   config_.stop_grace_ms());
      ::kill(orphan.pid, SIGKILL);
      stray.killed = true;
    }
    still[orphan.pid] = stray;
  }
  strays_ = std::move(still);
  return strays_.size();
}

void Supervisor::RotateOutputs() {
  auto rotate = [this](const Instance& inst) {
    if (inst.dir.empty() || !inst.child) return;
    for (const char* name : {"stdout", "stderr"}) {
      auto rotated =
          RotateOutputFile(inst.dir / name, config_.output().max_bytes(), config_.output().keep());
      if (!rotated) {
        spdlog::warn("cannot rotate {} of {} instance {}/{:04}: {}", name, inst.record.role(),
                     inst.record.version(), inst.record.number(), rotated.error().message());
      } else if (*rotated) {
        counters_.set_output_rotations(counters_.output_rotations() + 1);
      }
    }
  };
  for (const Slot* slot : {&running_, &testing_, &incoming_}) {
    if (slot->instance) rotate(*slot->instance);
  }
  for (const auto& inst : stopping_) rotate(*inst);
}

void Supervisor::PublishUpstreams() {
  if (!deps_.traffic) return;
  deps_.traffic->Publish({UpstreamOf(running_), UpstreamOf(testing_), mirror_});
}

void Supervisor::WriteInstanceRecord(const Instance& instance) {
  if (auto st =
          WriteTextRecord(base_.env(), base_paths::InstanceRecord(instance.dir), instance.record);
      !st) {
    spdlog::error("{}", st.error().message());
  }
}

}  // namespace yoke
