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
};

// What the loop looks like from outside, for status pages and tests.
struct SupervisorSnapshot {
  struct Role {
    std::string version;
    bool up = false;
    uint16_t port = 0;
    int pid = 0;
    uint32_t instance = 0;
    int64_t uptime_s = 0;
    uint64_t log_lines = 0;           // JSON log lines this instance wrote, read so far
    uint64_t log_lines_not_json = 0;  // of those, lines that do not parse as a JSON object
    uint64_t log_lines_no_level = 0;  // and JSON objects without a recognised level
  };
  Role running;
  Role testing;
  uint64_t instances_started = 0;
  uint64_t running_crashes = 0;
  uint64_t start_failures = 0;
  uint64_t artifacts_taken_in = 0;
  uint64_t versions_archived = 0;
  // The judge's current reading of the candidate.
  std::string judge_verdict;  // "wait", "promote", "reject", or empty without a candidate
  std::string judge_reason;
  int64_t window_s = 0;
  int64_t min_window_s = 0;
  uint64_t window_pairs = 0;
  uint64_t min_pairs = 0;
  // What the judge read at its last look (every 0.5 s; empty outside a window): each side's
  // log lines by level and requests served since the window opened, the error kinds testing
  // logged that running never has (most frequent first, at most kMaxNewKinds), and each gate.
  struct SideLogs {
    uint64_t errors = 0;
    uint64_t warnings = 0;
    uint64_t requests = 0;
  };
  struct GateReading {
    std::string name;
    std::string outcome;  // "pass", "fail" or "wait"
    std::string detail;
  };
  static constexpr size_t kMaxNewKinds = 20;
  SideLogs running_logs;
  SideLogs testing_logs;
  std::vector<std::pair<std::string, uint64_t>> new_error_kinds;
  std::vector<GateReading> judge_gates;
  // Each route's own gates (5xx, then log_errors) with the figures of their tests.
  std::vector<GateResult> judge_route_gates;
  std::string promoting;  // a promoted version whose new running instance is starting
  std::string pinned;     // set by `yoke pin`
  std::string held;       // the newest candidate waiting for `yoke unpin`
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

  SupervisorSnapshot Snapshot() const;

  // Queues an operator's verdict for the loop: promote or reject the candidate, pin the
  // running version (`version` must name it), unpin, or roll back to `version` (restored from
  // its archive if need be; as testing, or as running at once). The future holds what was done,
  // or why nothing was. Thread-safe.
  std::future<StatusOr<std::string>> RequestVerdict(ManualAction action, std::string reason,
                                                    std::string author, std::string version = "");

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
  };
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
  void StartDue(Slot& slot, SteadyTime now);
  void ReapStopping(SteadyTime now);

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
  bool IsReferenced(const std::string& version) const;

  // Tells the proxy where running and testing are now: only healthy instances get traffic.
  void PublishUpstreams();
  void WriteInstanceRecord(const Instance& instance);
  void WriteJournal();
  // Writes the decision into the base; with the judge's figures when it asks for them.
  void WriteDecision(const RecordDecision& decision);
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
  SupervisorSnapshot last_reading_;  // only the judge's reading: logs, new kinds, gates
  std::mutex manual_mu_;
  std::vector<ManualRequest> manual_;  // GUARDED_BY(manual_mu_)
  std::list<std::unique_ptr<Instance>> stopping_;
  std::map<std::filesystem::path, Settling> settling_;
  std::map<std::filesystem::path, Settling> ignored_drops_;
  uint16_t last_port_ = 0;
  bool journal_dirty_ = false;
  bool decision_written_ = false;  // since meta was last told
  std::string meta_told_;          // running and testing, as meta was last told

  mutable std::mutex snapshot_mu_;
  SupervisorSnapshot snapshot_;  // GUARDED_BY(snapshot_mu_)
  void PublishSnapshot();
  SupervisorSnapshot counters_;  // the loop's own copy of the counters
};

}  // namespace yoke
