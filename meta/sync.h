// Meta for one supervisor (docs/meta.md): keeps the repository in <base>/meta, follows the
// configured channel, hands a new release's artifact to the intake, and writes every decision
// and the host's status back as commits, pushing them when a remote is configured.
//
// Decisions reach meta from the base: each file in <base>/decisions/ that the host's decisions
// folder in meta lacks is committed, with the host status, as one commit. So a decision the
// supervisor wrote is never lost, even if yoke is killed before the commit, and never committed
// twice. Commits not yet on the remote are the queue; a rejected push is fetched, re-applied on
// the new tip and retried with backoff.
//
// All git work happens on one thread of its own, so a slow remote never stalls the supervisor.
// Thread-safety: Notify, FetchNow, Snapshot, EnvFor and PolicyOverride may be called from any
// thread.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/env.h"
#include "core/status.h"
#include "meta/artifact_fetch.h"
#include "meta/git_store.h"
#include "proto/yoke/config.pb.h"
#include "proto/yoke/records.pb.h"
#include "proto/yoke/status.pb.h"

namespace yoke::meta {

struct MetaSyncOptions {
  MetaSettings settings;  // project and host already filled in
  std::string service;
  std::string identifier;      // artifacts are <identifier>-<version>[.ext]
  std::filesystem::path base;  // the base folder
  Env* env = nullptr;          // its I/O; REQUIRES: set, and outlives the MetaSync
  std::string yoke_version;
  // True when the supervisor runs, tests, holds or is promoting `version`.
  std::function<bool(const std::string& version)> is_current;
  // Why an artifact of `bytes` may not be fetched into the base now (free space below the
  // floor), or nothing. Unset: always room.
  std::function<std::optional<std::string>(uint64_t bytes)> no_room;
  // Carries out a fleet-wide rollback order: the supervisor brings `version` back (from the
  // base or its archive) as testing, or as running at once. Returns what was done, or why not
  // (kNotFound: the base holds no copy). Unset: orders are not followed.
  std::function<StatusOr<std::string>(const std::string& version, const std::string& reason,
                                      const std::string& author, bool at_once)>
      rollback;
  // Gives live flags to the running instance (Supervisor::RequestLiveFlags): the running
  // version's definition with their new values, and what changed. Unset: live flags wait for
  // the next candidate.
  std::function<StatusOr<std::string>(const ServicePolicy& definition,
                                      const std::vector<std::string>& changes)>
      live_flags;
};

class MetaSync {
 public:
  MetaSync(MetaSyncOptions options, const Clock* clock);
  ~MetaSync();

  // Opens (or creates) the repository and starts the thread. An error here is reported (and
  // kept in Snapshot().last_error) and the supervisor runs without meta.
  Status Start();
  void Stop();

  // The supervisor's roles changed or a decision was written to the base.
  void Notify(const std::string& running, const std::string& testing);
  // A webhook arrived: fetch now rather than at the next interval.
  void FetchNow();
  // What /status shows of meta (status.proto's MetaStatus).
  MetaStatus Snapshot() const;

  // YOKE_CHANNEL, YOKE_RELEASE_SOURCES and YOKE_SOURCE_<REPO> (the release's githashes), and
  // YOKE_FLAG_<NAME> for each of the channel's flags.
  std::map<std::string, std::string> EnvFor(const std::string& version) const;
  // The meta commit the decision's candidate was seen at, and its release's sources, when
  // meta handed that version out (traceability); left as is otherwise.
  void FillProvenance(Decision* decision) const;
  // Meta's service record for this service (judge and mirror overrides), if any.
  std::optional<ServicePolicy> PolicyOverride() const;

 private:
  ArtifactFetchOptions FetchOptionsFor(const std::string& version, uint64_t size);
  Status Open();  // the repository, its remote and EnvFor's reader
  void Loop();
  void Pass(bool fetch);
  void CommitDecisions();
  void CommitStatus();
  void PushQueued();
  void Follow();
  // Fetches, checks and hands the release's artifact to the intake. Returns false when it
  // could not for now (no room above the free-space floor): the next pass tries again.
  bool Offer(const Release& release, const std::string& as_version = "");
  // Carries out the channel's fleet-wide rollback order once. Returns true while it is in hand
  // (the normal following waits), false once done or when there is none to carry out.
  bool FollowRollback(const FleetRollback& order, const Release& release);
  // Reads the fleet view of this env into the snapshot, at most every 30 s and only when the
  // branch moved: every host's status, for the status page's Fleet panel.
  void ReadFleetView();
  // sync_definitions.cc (docs/config.md, "Definitions in meta"). Resolves the effective
  // definition at the tip; false (said in /status) when it cannot be: nothing new is taken.
  bool ResolveEffective();
  // True when running or testing is `release` or a definition of it (<release>+def-<digest>).
  bool ReleaseHere(const std::string& release) const;
  // Writes the effective definition as the one `version`'s instances start with.
  Status WriteDefinitionFor(const std::string& version);
  // Running runs the channel's release: when its definition differs from the effective one,
  // offers the same release with the new definition (<release>+def-<digest>) as a candidate.
  void FollowDefinition(const Release& release, const std::string& running);
  // The decision's field-level diff when its candidate differs from running in definition.
  void FillDefinitionChanges(Decision* decision) const;
  // Why a staged rollout keeps this host from taking `version` now, or empty.
  std::string RolloutWait(const std::string& version);
  // Fetch() plus the bookkeeping: failure causes counted, a rewritten remote noticed.
  Status FetchRemote();
  void CountRemoteFailure();
  void NoteBadRecord(const std::string& path, const std::string& message);
  void SetError(const std::string& error);
  HostStatus CurrentStatus() const;
  std::string HostDir() const;
  Author HostAuthor() const;

  MetaSyncOptions options_;
  const Clock* clock_;
  std::unique_ptr<GitStore> store_;   // the loop thread's
  std::unique_ptr<GitStore> reader_;  // EnvFor's, GUARDED_BY(reader_mu_)
  mutable std::mutex reader_mu_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                             // GUARDED_BY(mu_)
  bool fetch_now_ = false;                        // GUARDED_BY(mu_)
  bool notified_ = false;                         // GUARDED_BY(mu_)
  std::string running_;                           // GUARDED_BY(mu_)
  std::string testing_;                           // GUARDED_BY(mu_)
  std::string since_;                             // GUARDED_BY(mu_)
  std::string status_error_;                      // GUARDED_BY(mu_)
  std::optional<ServicePolicy> policy_override_;  // GUARDED_BY(mu_)
  MetaStatus snapshot_;                           // GUARDED_BY(mu_)
  // Traceability (HostStatus.meta_commit, channel_release, sources), GUARDED_BY(mu_).
  std::string acted_key_;  // "<version>@<release blob>" the fields below were taken for
  std::string acted_commit_;
  std::string acted_release_;
  std::vector<SourceRevision> acted_sources_;
  // Per version seen on the channel: the commit it was seen at and its sources, for decisions.
  std::map<std::string, std::pair<std::string, std::vector<SourceRevision>>> provenance_;

  // The loop thread's own.
  std::set<std::string> bad_seen_;      // "path@blob" already reported
  std::set<std::string> skipped_base_;  // base decision files that do not parse
  size_t base_decisions_in_meta_ = 0;   // base decision files last found all in meta
  std::string status_in_meta_;          // the host status last found or put in meta
  std::string offered_;                 // "<version>@<release blob>" handed to the intake
  std::string waiting_for_room_;        // an offer refused for space, said once
  std::string rejected_tip_;            // the tip `rejected_` was read at
  std::set<std::string> rejected_;      // versions this host rejected
  // Per version, the times of this host's newest ROLLBACK to it and REJECT of it.
  struct LastVerdicts {
    std::string rollback;
    std::string reject;
  };
  std::map<std::string, LastVerdicts> last_verdict_on_;
  std::string rollback_done_;  // "<time> <version>" of the order carried out
  std::string rollback_said_;  // the last problem with an order, said once
  std::string rollout_said_;   // the last rollout wait, said once
  // The effective definition at the last pass, if meta holds one (sync_definitions.cc).
  std::optional<ServicePolicy> effective_;
  std::string effective_digest_;
  std::string definition_said_;  // the last resolve problem, said once
  std::string live_offered_;     // the live flags change last handed to the supervisor
  SteadyTime next_heartbeat_{};
  SteadyTime next_fleet_read_{};
  std::string fleet_tip_;  // the tip the fleet view was read at
  SteadyTime next_push_{};
  std::chrono::milliseconds push_backoff_{0};
  int refusals_in_row_ = 0;  // pushes refused because another host pushed first
  std::thread thread_;
};

}  // namespace yoke::meta
