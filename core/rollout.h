// Staged rollouts (docs/fleet.md): which stage a host belongs to, whether a host may take the
// channel's release, and the captain's one step over the fleet as meta shows it. Pure: the
// meta thread and `yoke captain` read the records and pass them in with the time.
// Thread-safety: free functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "proto/yoke/records.pb.h"

namespace yoke {

// A RFC 3339 UTC time as records write it ("2026-11-22T10:02:11Z"), or nullopt.
std::optional<WallTime> ParseUtc(std::string_view text);
std::string FormatRfc3339(WallTime t);

// A host's place in the percent order: FNV-1a of its name, so every host and every captain
// computes the same order without talking to each other.
uint64_t HostRank(std::string_view host);

// The hosts of each stage, frozen when a rollout starts. Hosts a stage names are in the first
// stage naming them; then each stage with a percent takes hosts in HostRank order until it and
// the stages before it hold ceil(percent% of all hosts); the last stage takes the rest.
// `hosts`: those following the channel (duplicates ignored).
std::vector<std::vector<std::string>> AssignStages(const RolloutPlan& plan,
                                                   std::vector<std::string> hosts);

// Whether `host` may take `channel_release` now, and if not, why (for the log and /status).
struct RolloutGate {
  bool open = true;
  std::string why;
};
RolloutGate GateFor(const Rollout& rollout, std::string_view channel_release,
                    std::string_view host);

// One host × service as meta shows it (its status record).
struct FleetMember {
  std::string host;
  std::string service;
  std::string channel;
  std::string running;
  std::string testing;
  std::optional<WallTime> seen;  // nullopt: the record says nothing parseable
};

// A REJECT decision of the release being rolled out.
struct FleetReject {
  std::string host;
  std::string service;
  std::string path;  // the decision's path in meta
  std::string reason;
  std::vector<std::string> gates;  // the gates that failed
  std::optional<WallTime> time;
};

struct CaptainInput {
  std::string channel;          // its name, for messages
  std::string channel_release;  // what the channel points at
  Rollout rollout;
  std::vector<FleetMember> members;  // every status in the env; those of other channels ignored
  std::vector<FleetReject> rejects;
  WallTime now;
};

struct CaptainMove {
  bool changed = false;            // `rollout` differs from the input's: commit it with `message`
  Rollout rollout;                 // the rollout after this step
  std::string message;             // one line naming the rollout, the stage and the reason
  std::vector<std::string> notes;  // what the step waits for, hosts unknown, and so on
};

// One step: starts the rollout of a new release (freezing the stages, opening the first), halts
// it on a reject when the plan says so, opens the next stage when every host of the current one
// runs the release and the stage held long enough, or finishes it. At most one move per step.
CaptainMove CaptainStep(const CaptainInput& input);

// The stage index of `host` in a started rollout: the stage listing it, else the last.
size_t StageOf(const RolloutState& state, std::string_view host);

}  // namespace yoke
