// The lifecycle of one service's versions as a pure state machine: which version is running,
// which is testing, which is coming in as the new running during a promotion, what is pinned
// and held, and whether the judge's evidence window is open. Events (an artifact arrived, an
// instance is up or failed, the judge spoke, an operator's verdict, a resume after a restart)
// go in; the new state and a list of actions (start, stop, switch, archive, record a decision,
// reply to the operator, a line for the log) come out, in the order the daemon must carry
// them out. Process mechanics (pids, health probes, grace and drain timers, log tailing, the
// files of the base) stay in the daemon: here there are only roles and versions. Time comes
// in as a value; nothing here reads a clock or touches a file.
// Thread-safety: a Lifecycle is a plain value; one thread (the supervisor loop) owns it.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/judge.h"
#include "core/status.h"
#include "proto/yoke/records.pb.h"

namespace yoke {

// The three places a version can be. kIncoming is a promoted (or rolled-back-to) version's new
// running instance while it starts; its instances are running instances on disk.
enum class LifecycleSlot { kRunning, kTesting, kIncoming };
std::string_view SlotName(LifecycleSlot slot);  // "running", "testing", "incoming"

struct SlotState {
  std::string version;  // empty: the slot is free
  bool up = false;      // its instance passed its health check and has not failed since
  bool proven = false;  // this version has been healthy in this slot
  SteadyTime up_since{};
  bool operator==(const SlotState&) const = default;
};

struct LifecycleState {
  SlotState running;
  SlotState testing;
  SlotState incoming;
  std::string pinned;        // running stays on this version until unpinned
  std::string held;          // the newest candidate taken in while pinned, waiting for unpin
  bool window_open = false;  // the judge is reading evidence of testing against running
  int running_failures = 0;  // running's failures in a row, for the restart backoff
  bool operator==(const LifecycleState&) const = default;
};

// ---- Events ----

// A version was taken into the base (a drop, a fetch from meta, or one never started).
struct ArtifactArrived {
  std::string version;
};
// The slot's instance passed its health check.
struct InstanceUp {
  LifecycleSlot slot;
};
// The slot's instance exited (during startup or while up). The daemon has already taken the
// instance out of the slot and told it to stop if it still runs.
struct InstanceExited {
  LifecycleSlot slot;
  std::string why;
};
// The slot's instance could not be started, or was not healthy by its deadline.
struct StartFailed {
  LifecycleSlot slot;
  std::string why;
};
// The judge's verdict on the open window; the daemon keeps the figures behind it.
struct Judged {
  JudgeVerdict verdict;
  std::string reason;
};
enum class ManualAction { kPromote, kReject, kPin, kUnpin, kRollback, kRollbackNow };
// An operator's verdict (CLI or admin API).
struct ManualVerdict {
  ManualAction action;
  std::string version;  // pin: must name running; rollback: the version to go back to
  std::string reason;
  std::string author;
  // Unpin only: whether the held version's artifact is still in the base (the daemon looks).
  bool held_on_disk = true;
};
// After a restart: the versions the journal (or the role links) name, each of whose artifact
// the daemon found in the base; empty when there is none.
struct Resume {
  std::string running;
  std::string testing;
  std::string incoming;
  std::string pinned;
  std::string held;
};
using LifecycleEvent = std::variant<ArtifactArrived, InstanceUp, InstanceExited, StartFailed,
                                    Judged, ManualVerdict, Resume>;

// ---- Actions ----

// Start an instance of `version` in `slot` once `at` has come (a restart waits its backoff).
// Replaces any start the slot was waiting for.
struct StartInstance {
  LifecycleSlot slot;
  std::string version;
  SteadyTime at;
  bool operator==(const StartInstance&) const = default;
};
// The slot is cleared (running or testing): its role link goes, its instance, if any, is told
// to stop, and the proxy gets the new upstreams.
struct StopInstance {
  LifecycleSlot slot;
  bool operator==(const StopInstance&) const = default;
};
// The incoming instance is up: it becomes running, the proxy switches to it, and the old
// running instance drains and stops.
struct SwitchTraffic {
  std::string from;
  std::string to;
  bool operator==(const SwitchTraffic&) const = default;
};
// Both running and testing are up: the evidence window opens (counts taken as of now).
struct OpenWindow {
  std::string running;
  std::string testing;
  bool operator==(const OpenWindow&) const = default;
};
struct CloseWindow {
  bool operator==(const CloseWindow&) const = default;
};
// Archive the version folder once nothing runs it any more (the daemon also checks the
// instances still stopping; the version of one is archived when it has exited).
struct Archive {
  std::string version;
  bool operator==(const Archive&) const = default;
};
struct RecordDecision {
  std::string from;  // running when the decision was taken
  std::string to;
  Verdict verdict;
  std::string reason;
  std::string author;
  bool with_figures = false;  // the judge's: attach its gates and figures
  bool operator==(const RecordDecision&) const = default;
};
// The answer to a ManualVerdict: what was done, or why nothing was.
struct Reply {
  bool ok;
  std::string text;
  bool operator==(const Reply&) const = default;
};
// A line for the operator's log.
struct Note {
  enum Level { kInfo, kWarn, kError };
  Level level;
  std::string text;
  bool operator==(const Note&) const = default;
};
using LifecycleAction = std::variant<StartInstance, StopInstance, SwitchTraffic, OpenWindow,
                                     CloseWindow, Archive, RecordDecision, Reply, Note>;

struct LifecycleSettings {
  // The restart backoff of a failing running instance (core/backoff.h).
  Millis backoff_initial{500};
  Millis backoff_max{30000};
  Millis backoff_reset_after{60000};
};

class Lifecycle {
 public:
  explicit Lifecycle(LifecycleSettings settings, LifecycleState state = {})
      : settings_(settings), state_(std::move(state)) {}

  // Moves the state on by one event seen at `now`; returns what the daemon must do, in order.
  std::vector<LifecycleAction> Apply(const LifecycleEvent& event, SteadyTime now);

  // Why a manual verdict would be refused now, checked before any side effect (a rollback
  // restores an archived version between this check and Apply). Apply checks it again.
  Status Check(const ManualVerdict& verdict) const;

  // True when a slot or the held place names `version`: its folder stays, and a drop of it is
  // not taken in again.
  bool IsReferenced(std::string_view version) const;

  const LifecycleState& state() const { return state_; }

 private:
  class Step;

  LifecycleSettings settings_;
  LifecycleState state_;
};

std::string_view ManualActionName(ManualAction action);  // "promote", ..., "rollback-now"
// Parses an action's name as ManualActionName spells it; fails with "unknown action ...".
StatusOr<ManualAction> ParseManualAction(std::string_view name);

// One line for a test's failure message or a debug log.
std::string Describe(const LifecycleAction& action);
std::string Describe(const LifecycleState& state);

}  // namespace yoke
