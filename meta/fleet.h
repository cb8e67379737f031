// The fleet as meta shows it (docs/fleet.md): every host's status and decisions in one env,
// the captain's pass over a channel's rollout, and the fleet-wide rollback order. Reads and
// commits through a GitStore; the decisions themselves are core/rollout's.
// Thread-safety: as GitStore's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/decision_listing.h"
#include "core/rollout.h"
#include "core/status.h"
#include "meta/git_store.h"
#include "proto/yoke/status.pb.h"

namespace yoke::meta {

// One host × service of an env, with its last decision.
struct FleetRow {
  FleetMember member;
  HostStatus status;
  std::optional<DecisionEntry> last_decision;
  std::string problem;  // its status record does not parse: "path:line:column: ..."
};

struct Fleet {
  std::vector<FleetRow> rows;  // by host, then service
  DecisionListing decisions;   // every decision in the env, newest first
};

// Which decisions ReadFleet reads. A fleet's history only grows; the fleet view needs each
// host × service's newest decision, and the captain also those that took the channel's
// release as their target (its rejects): `all` false reads only these, chosen by file name
// (<time>-<from>-to-<to>.txtpb) before any record is parsed.
struct FleetDecisions {
  bool all = true;
  std::string to;  // with `all` false: also every decision whose target is this version
};

// Reads every status, and the decisions `which` says, under <project>/<env>/hosts at the
// branch tip.
StatusOr<Fleet> ReadFleet(const GitStore& store, const std::string& project, const std::string& env,
                          const FleetDecisions& which = {});

// The fleet view of an env at `now`: one row per host × service (its roles, last decision, age
// of its status and whether that is stale, its rollout stage) and each channel's rollout.
// A host is stale when its status is older than its channel's plan's host_stale_s (default
// 1800 s).
StatusOr<FleetReport> ReadFleetReport(const GitStore& store, const std::string& project,
                                      const std::string& env, WallTime now);

struct CaptainTarget {
  std::string project;
  std::string env;
  std::string channel;
};

// One captain step on the branch tip: reads the channel, its rollout and the fleet, and when
// the step moves the rollout, commits it on exactly the tip it read (so two captains never both
// move a stage: the second one's commit fails with kConflict and its next step starts again).
StatusOr<CaptainMove> CaptainPass(GitStore& store, const CaptainTarget& target, WallTime now,
                                  const Author& author);

// Orders every host following the channel to bring `rollback.version()` back: points the
// channel at it and records the order in the channel. Fails when the version has no release.
StatusOr<std::string> OrderRollback(GitStore& store, const CaptainTarget& target,
                                    const FleetRollback& rollback, const Author& author);

}  // namespace yoke::meta
