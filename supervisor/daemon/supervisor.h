// The orchestration loop for one service: takes in artifacts dropped in the base, starts the
// running and testing instances, health-checks them, restarts a crashed running instance with
// backoff, rejects a failing candidate, archives versions nothing runs any more, and keeps a
// journal so that a restarted supervisor (even after kill -9) resumes where it was.
// What to do about each of these is decided by the lifecycle state machine (core/lifecycle.h):
// the loop turns what it sees into events and carries out the actions that come back.
//
// Tick() does one pass and never blocks for longer than one health probe; the caller drives
// it from a timer. Every side effect goes through the objects passed in, so tests can fake
// the clock, the launcher and the probe.
// Thread-safety: not thread-safe; one loop thread owns a Supervisor. Snapshot() is the only
// call for other threads, and it locks.
#pragma once

#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base-layout/base_folder.h"
#include "core/clock.h"
#include "core/drift_baseline.h"
#include "core/evidence_window.h"
#include "core/judge.h"
#include "core/lifecycle.h"
#include "core/log_counts.h"
#include "core/status.h"
#include "core/upstream.h"
#include "platform/health_probe.h"
#include "platform/process.h"
#include "proto/yoke/config.pb.h"
#include "proto/yoke/records.pb.h"
#include "proto/yoke/state.pb.h"
#include "proto/yoke/status.pb.h"
#include "supervisor/daemon/archiver.h"
#include "supervisor/daemon/log_tailer.h"

namespace yoke {

struct SupervisorDeps {
  const Clock* clock;
  ProcessLauncher* launcher;
  HealthProbe* probe;
  std::function<bool(uint16_t)> port_free;
  std::string host;
  TrafficSwitch* traffic = nullptr;    // the proxy; null: no traffic to steer
  EvidenceWindow* evidence = nullptr;  // reset for each new candidate; may be null
  // Meta. Called on the loop thread after a decision is written to the base and whenever the
  // versions running or testing change. May be null.
  std::function<void(const std::string& running, const std::string& testing)> meta_notify{};
  // Extra environment for a version's instances: its release's provenance and the channel's
  // flags. May be null.
  std::function<std::map<std::string, std::string>(const std::string& version)> release_env{};
  // The judge and mirror settings meta overrides for this service; read when a window opens.
  // May be null.
  std::function<std::optional<ServicePolicy>()> policy_override{};
  // Fills a decision's meta_commit and sources from what meta knows of its candidate. May be
  // null.
  std::function<void(Decision*)> decision_provenance{};
  // Where unused versions are zipped (yoke run: a background Archiver over the base). Null: the
  // supervisor archives inline, within its tick (tests that step the loop).
  Archiver* archiver = nullptr;
};

class Supervisor {
 public:
  Supervisor(Config config, BaseFolder base, SupervisorDeps deps);
  ~Supervisor();

  // Prepares the base and rebuilds state from the journal: instances a previous supervisor
  // left alive are stopped (checked by start time, not by pid alone), and their versions are
  // queued to start again in the same roles. After an in-place upgrade (the same process,
  // a new image) the running and testing instances are still children of this process: they
  // are adopted as they are (pid and start time checked) and the evidence window restarts.
  Status Start();

  // A config re-read on SIGHUP, with only its live fields changed (core/config_reload.h): the
  // judge's settings (with meta's override) apply from the next judgement, the rest as each is
  // next read.
  void Reload(const Config& config);

  // Before the process execs a new image of yoke: writes the journal as it stands, with the
  // instances left running, for the new image's Start to adopt. Fails when it cannot: the
  // upgrade must not go on then.
  Status PrepareUpgrade();

  // One pass of the loop.
  void Tick();

  // Stops every instance (SIGTERM, then SIGKILL after the grace period) and writes the
  // journal so that the next start resumes the same versions. Blocks until all have exited.
  void Shutdown();

  // The supervisor's part of /status (status.proto): running and testing, the judge's reading
  // (judge, evidence.logs, and each route's gates in evidence.routes), pinned, held and the
  // supervisor counters. Published at the end of each tick; any thread.
  StatusReport Snapshot() const;

  // Queues an operator's verdict for the loop: promote or reject the candidate, pin the
  // running version (`version` must name it), unpin, or roll back to `version` (restored from
  // its archive if need be; as testing, or as running at once). The future holds what was done,
  // or why nothing was. Thread-safe.
  std::future<StatusOr<std::string>> RequestVerdict(ManualAction action, std::string reason,
                                                    std::string author, std::string version = "");

  // Queues live flags for the loop (live_flags.cc, docs/config.md "Live flags"): `definition`
  // is the running version's definition with the live flags' new values; they are written
  // atomically to the flags file of the running and testing instances, which get the configured
  // signal, and the change is recorded as a LIVE_FLAGS decision naming `changes`. Thread-safe.
  std::future<StatusOr<std::string>> RequestLiveFlags(ServicePolicy definition,
                                                      std::vector<std::string> changes,
                                                      std::string author);

 private:
  static constexpr const char* kRunning = "running";
  static constexpr const char* kTesting = "testing";
  enum class Phase { kStarting, kUp, kDraining, kStopping };
  struct Instance {
    InstanceRecord record;
    std::filesystem::path dir;
    std::unique_ptr<ChildProcess> child;
    Phase phase = Phase::kStarting;
    SteadyTime up_since;
    SteadyTime health_deadline;
    SteadyTime next_probe;
    SteadyTime kill_at;
    SteadyTime drain_until;
    std::unique_ptr<LogTailer> tail;
    LogCounts logs;  // everything this instance logged, its startup apart
    bool killed = false;
    // Its leader exited 0 while starting and `pid_file` is set: waiting for the daemon's pid.
    bool awaiting_pid_file = false;
    bool adopted = false;          // its main process came from the pid file
    std::string pid_file_problem;  // why the pid file's pid was not adopted (yet)
    SteadyTime next_check;         // once up: the next periodic health check
    uint32_t check_failures = 0;   // periodic checks failed in a row
  };
  // A live orphan reparented to yoke that no instance's session claims (a process that left
  // its instance's session by setsid, whose instance is gone): stopped like an instance.
  struct Stray {
    uint64_t start_ticks = 0;
    SteadyTime kill_at;
    bool killed = false;
  };
  // The process side of a lifecycle slot; which version it holds is the lifecycle's.
  struct Slot {
    LifecycleSlot which;
    const char* role;  // on disk: incoming's instances are running instances
    std::unique_ptr<Instance> instance;
    SteadyTime next_start;  // set by a StartInstance action: a restart waits its backoff
  };
  struct Settling {
    uint64_t size;
    int64_t mtime_ns;
    SteadyTime since;
  };

  struct Window {
    bool open = false;
    SteadyTime started;
    SteadyTime next_judgement;
    uint64_t running_served = 0;  // the proxy's counts when the window opened
    uint64_t testing_served = 0;
    uint64_t running_errors = 0;  // running's log counts when the window opened
    uint64_t running_warnings = 0;
    uint64_t testing_errors = 0;  // testing's, when the window reopened (0: first window)
    uint64_t testing_warnings = 0;
    uint64_t running_routed_errors = 0;  // and the errors whose line named a route, likewise
    uint64_t testing_routed_errors = 0;
    std::map<std::string, uint64_t> running_route_errors;
    std::map<std::string, uint64_t> testing_route_errors;
    // Issue 18: the drift baseline read when the window opened, each side's rates at the last
    // look (for the decision), and whether the wait for a person was logged.
    DriftBaseline baseline;
    VersionRates testing_rates;
    VersionRates running_rates;
    bool told_awaiting_person = false;
  };
  struct LiveFlagsRequest {
    ServicePolicy definition;
    std::vector<std::string> changes;
    std::string author;
    std::promise<StatusOr<std::string>> done;
  };
  void HandleLiveFlags();  // live_flags.cc
  std::mutex live_mu_;
  std::vector<LiveFlagsRequest> live_requests_;  // GUARDED_BY(live_mu_)
  std::vector<std::string> live_changes_;        // for the LIVE_FLAGS decision being written
  struct ManualRequest {
    ManualAction action;
    std::string reason;
    std::string author;
    std::string version;
    std::promise<StatusOr<std::string>> done;
  };

  // Puts an instance adopted across an upgrade into its slot (up, its logs read so far as the
  // baseline) and tells the lifecycle; stops it when the slot now holds another version.
  void AdoptInto(Slot& slot, std::unique_ptr<Instance> inst);
  void TakeInDrops(SteadyTime now);
  void PollLogs();
  // OpenWindow: counts as of now are the window's baseline; meta's policy applies from here.
  void OpenEvidenceWindow(SteadyTime now);
  void ApplyPolicyOverride();
  void JudgeCandidate(SteadyTime now);
  void HandleManualVerdicts(SteadyTime now);
  std::optional<Upstream> UpstreamOf(const Slot& slot) const;
  void WatchSlot(Slot& slot, SteadyTime now);
  // An instance that is up is checked every health.check_interval_ms; failure_threshold
  // failures in a row count as a crash. At most one such check per tick, so a tick still blocks
  // for at most one probe.
  void CheckUp(Slot& slot, SteadyTime now);
  void StartDue(Slot& slot, SteadyTime now);
  void ReapStopping(SteadyTime now);
  // Rotates the stdout and stderr of every instance past output.max_bytes
  // (supervisor/daemon/output_rotation.h).
  void RotateOutputs();
  // Reaps exited orphans and stops live ones no instance claims (SIGTERM, SIGKILL after
  // stop_grace_ms). Returns how many live unclaimed ones are left. `force`: also while an
  // instance waits for its pid file (shutdown).
  size_t ContainOrphans(SteadyTime now, bool force);
  // An instance whose leader exited 0 while starting, with `pid_file` set: adopts the pid in
  // it. False while there is none yet.
  bool AdoptFromPidFile(Instance& inst);

  // Hands an event to the lifecycle and carries out the actions it returns, in order; a Reply
  // goes to `reply` when there is one.
  void Apply(const LifecycleEvent& event, SteadyTime now,
             std::promise<StatusOr<std::string>>* reply = nullptr);
  void Execute(const LifecycleAction& action, SteadyTime now,
               std::promise<StatusOr<std::string>>* reply);
  Slot& SlotOf(LifecycleSlot which);
  const std::string& VersionOf(const Slot& slot) const;
  // The slot's instance failed (`exited`: its process exited; else it could not be started or
  // was not healthy in time): the process side is handled here, the rest is the lifecycle's.
  void OnInstanceFailed(Slot& slot, const std::string& why, bool exited, SteadyTime now);
  // StopInstance: clears the slot's role link; its instance, if any, is told to stop.
  void Retire(Slot& slot, SteadyTime now);
  // SwitchTraffic: the incoming instance becomes running; the old running drains, then stops.
  void SwitchToIncoming(const std::string& to, SteadyTime now);
  void Stop(std::unique_ptr<Instance> instance, SteadyTime now);
  void ArchiveIfUnused(const std::string& version);
  void CollectArchives();  // the archiver's finished jobs: counters, log, disk budget
  bool IsReferenced(const std::string& version) const;

  // Tells the proxy where running and testing are now: only healthy instances get traffic.
  void PublishUpstreams();
  void WriteInstanceRecord(const Instance& instance);
  void WriteJournal();
  void WriteDecisions();  // those not written yet, oldest first
  // Writes the decision into the base; with the judge's figures when it asks for them.
  void WriteDecision(const RecordDecision& decision);
  void CountDecision(Verdict verdict, const std::string& by);
  std::string WallTimeText() const;

  Config config_;
  BaseFolder base_;
  SupervisorDeps deps_;
  Lifecycle lifecycle_;  // which version is where, pinned, held; the decisions
  Slot running_;
  Slot testing_;
  Slot incoming_;  // during a promotion: the candidate's new running instance, starting
  Window window_;
  JudgeSettings judge_settings_;
  std::shared_ptr<const MirrorPolicy> mirror_;  // meta's override; null: the proxy's own
  std::string mirror_key_;                      // the settings mirror_ was made from
  LogFormat log_format_;
  Judgement last_judgement_;
  StatusReport last_reading_;  // only the judge's reading: logs, new kinds, gates
  std::mutex manual_mu_;
  std::vector<ManualRequest> manual_;  // GUARDED_BY(manual_mu_)
  std::list<std::unique_ptr<Instance>> stopping_;
  std::map<pid_t, Stray> strays_;
  bool checked_this_tick_ = false;  // a periodic health check ran in this tick
  std::map<std::filesystem::path, Settling> settling_;
  std::map<std::filesystem::path, Settling> ignored_drops_;
  uint16_t last_port_ = 0;
  bool journal_dirty_ = false;
  bool decision_written_ = false;  // since meta was last told
  // The id of the decision the Apply under way recorded, for the reply to a hand verdict.
  std::string applied_decision_id_;
  bool journal_write_failing_ = false;
  bool decision_write_failing_ = false;
  // Decisions whose write failed (a full disk), with the name each was given: written at the
  // next tick, in order, never dropped.
  std::vector<std::pair<std::filesystem::path, Decision>> unwritten_decisions_;
  std::string meta_told_;  // running and testing, as meta was last told

  mutable std::mutex snapshot_mu_;
  StatusReport snapshot_;  // GUARDED_BY(snapshot_mu_)
  void PublishSnapshot();
  SupervisorCounters counters_;             // the loop's own copy of the counters
  DiskStatus disk_;                         // the base's free space at the last intake
  std::unique_ptr<Archiver> own_archiver_;  // when deps_.archiver is null
  Archiver* archiver_;
  void CheckFreeSpace();
};

}  // namespace yoke
