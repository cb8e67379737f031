#include "core/lifecycle.h"

#include <utility>

#include "core/backoff.h"
#include "core/version.h"

namespace yoke {

// One event's worth of work: changes the state in place and collects the actions in order.
class Lifecycle::Step {
 public:
  Step(const LifecycleSettings& settings, LifecycleState& state, SteadyTime now)
      : settings_(settings), s_(state), now_(now) {}

  std::vector<LifecycleAction> Take() { return std::move(actions_); }

  void operator()(const ArtifactArrived& e) {
    if (e.version.empty() || Referenced(s_, e.version)) return;
    AssignCandidate(e.version);
  }

  void operator()(const InstanceUp& e) {
    SlotState& slot = SlotOf(e.slot);
    if (slot.version.empty()) return;
    slot.up = true;
    slot.proven = true;
    slot.up_since = now_;
    if (e.slot == LifecycleSlot::kIncoming) {
      CompletePromotion();
    } else {
      MaybeOpenWindow();
    }
  }

  void operator()(const InstanceExited& e) { OnInstanceFailed(e.slot, e.why); }
  void operator()(const StartFailed& e) { OnInstanceFailed(e.slot, e.why); }

  void operator()(const Judged& e) {
    if (!s_.window_open || s_.testing.version.empty() || !s_.incoming.version.empty()) return;
    if (e.verdict == JudgeVerdict::kReject) {
      RejectCandidate(e.reason, Verdict::REJECT, "judge", /*with_figures=*/true);
    } else if (e.verdict == JudgeVerdict::kPromote) {
      Record(s_.testing.version, Verdict::PROMOTE, e.reason, "judge", /*with_figures=*/true);
      Say(Note::kInfo, "candidate " + s_.testing.version + " promoted: " + e.reason);
      BeginPromotion();
    }
  }

  void operator()(const ManualVerdict& e) {
    if (auto st = CheckManual(s_, e); !st) {
      Answer(false, st.error().message());
      return;
    }
    const std::string by = e.reason + " (by " + e.author + ")";
    switch (e.action) {
      case ManualAction::kPin: {
        s_.pinned = s_.running.version;
        Record(s_.pinned, Verdict::PIN, e.reason, e.author);
        if (!s_.testing.version.empty()) {
          RejectCandidate("running pinned to " + s_.pinned + ": " + e.reason, Verdict::REJECT,
                          e.author);
        }
        Say(Note::kWarn, "running pinned to " + s_.pinned + ": " + by);
        Answer(true, "pinned " + s_.pinned);
        return;
      }
      case ManualAction::kUnpin: {
        Record(s_.pinned, Verdict::PIN, "unpin: " + e.reason, e.author);
        Say(Note::kInfo, "running unpinned from " + s_.pinned + ": " + by);
        s_.pinned.clear();
        std::string held = std::move(s_.held);
        s_.held.clear();
        if (!held.empty() && e.held_on_disk) AssignCandidate(held);
        Answer(true, held.empty() ? "unpinned" : "unpinned; testing " + held);
        return;
      }
      case ManualAction::kRollback:
      case ManualAction::kRollbackNow:
        Rollback(e, e.action == ManualAction::kRollbackNow);
        return;
      case ManualAction::kReject: {
        const std::string version = s_.testing.version;
        RejectCandidate(e.reason, Verdict::REJECT, e.author);
        Say(Note::kWarn, "candidate " + version + " rejected by hand: " + by);
        Answer(true, "rejected " + version);
        return;
      }
      case ManualAction::kPromote: {
        const std::string version = s_.testing.version;
        Record(version, Verdict::PROMOTE, e.reason, e.author);
        Say(Note::kInfo, "candidate " + version + " promoted by hand: " + by);
        BeginPromotion();
        Answer(true, "promoting " + version);
        return;
      }
    }
  }

  void operator()(const Resume& e) {
    s_ = LifecycleState();
    s_.running.version = e.running;
    s_.running.proven = !e.running.empty();  // it served before the restart
    s_.testing.version = e.testing;
    s_.incoming.version = e.incoming;
    s_.pinned = e.pinned;
    s_.held = e.held;
    if (s_.testing.version == s_.running.version) s_.testing.version.clear();
    if (s_.running.version.empty() && !s_.testing.version.empty()) {
      std::swap(s_.running.version, s_.testing.version);
      s_.running.proven = false;
    }
    for (LifecycleSlot slot :
         {LifecycleSlot::kRunning, LifecycleSlot::kTesting, LifecycleSlot::kIncoming}) {
      if (!SlotOf(slot).version.empty()) Start(slot, now_);
    }
  }

  static Status CheckManual(const LifecycleState& s, const ManualVerdict& e) {
    switch (e.action) {
      case ManualAction::kPin:
        if (!s.incoming.version.empty()) {
          return Fail("a promotion to " + s.incoming.version +
                      " is under way; pin once it is done");
        }
        if (e.version != s.running.version || s.running.version.empty()) {
          return Fail("only the running version can be pinned; running is " +
                      (s.running.version.empty() ? "none" : s.running.version));
        }
        return Ok();
      case ManualAction::kUnpin:
        if (s.pinned.empty()) return Fail("nothing is pinned");
        return Ok();
      case ManualAction::kRollback:
      case ManualAction::kRollbackNow: {
        const std::string& version = e.version;
        if (version.empty()) return Fail("say which version to roll back to");
        // It names folders and archives of the base: nothing but a version string may get there.
        if (!IsValidVersionString(version)) {
          return Fail("not a version: use letters, digits, '.', '_', '+' and '-' (at most 128)");
        }
        if (!s.incoming.version.empty()) {
          return Fail("a promotion to " + s.incoming.version +
                      " is under way; roll back once it is done");
        }
        if (version == s.running.version) return Fail(version + " is running already");
        if (version == s.testing.version && e.action == ManualAction::kRollback) {
          return Fail(version + " is testing already");
        }
        if (!s.pinned.empty()) return Fail("running is pinned to " + s.pinned + "; unpin first");
        return Ok();
      }
      case ManualAction::kPromote:
      case ManualAction::kReject:
        if (s.testing.version.empty() || !s.incoming.version.empty()) {
          return Fail("there is no candidate under test");
        }
        return Ok();
    }
    return Fail("unknown action");
  }

  static bool Referenced(const LifecycleState& s, std::string_view version) {
    return !version.empty() && (version == s.running.version || version == s.testing.version ||
                                version == s.incoming.version || version == s.held);
  }

 private:
  SlotState& SlotOf(LifecycleSlot slot) {
    switch (slot) {
      case LifecycleSlot::kRunning:
        return s_.running;
      case LifecycleSlot::kTesting:
        return s_.testing;
      case LifecycleSlot::kIncoming:
        return s_.incoming;
    }
    return s_.running;
  }

  void Do(LifecycleAction action) { actions_.push_back(std::move(action)); }
  void Say(Note::Level level, std::string text) { Do(Note{level, std::move(text)}); }
  void Answer(bool ok, std::string text) { Do(Reply{ok, std::move(text)}); }
  void Record(const std::string& to, Verdict verdict, std::string reason, std::string author,
              bool with_figures = false) {
    Do(RecordDecision{s_.running.version, to, verdict, std::move(reason), std::move(author),
                      with_figures});
  }
  void Start(LifecycleSlot slot, SteadyTime at) {
    Do(StartInstance{slot, SlotOf(slot).version, at});
  }
  void ArchiveVersion(const std::string& version) {
    if (!version.empty()) Do(Archive{version});
  }
  void CloseWindowIfOpen() {
    if (!s_.window_open) return;
    s_.window_open = false;
    Do(CloseWindow{});
  }
  void MaybeOpenWindow() {
    // During a promotion running is about to change: the window opens once it has.
    if (s_.window_open || !s_.incoming.version.empty() || !s_.running.up || !s_.testing.up) {
      return;
    }
    s_.window_open = true;
    Do(OpenWindow{s_.running.version, s_.testing.version});
  }

  // A new version: while nothing proven serves there is nothing to compare it with, so it
  // takes the running role outright; while pinned it waits; else it is the candidate.
  void AssignCandidate(const std::string& version) {
    if (s_.running.version.empty() || !s_.running.proven) {
      if (!s_.running.version.empty()) {
        Say(Note::kInfo, "version " + version + " replaces " + s_.running.version +
                             ", which never became healthy");
        Retire(LifecycleSlot::kRunning, /*archive=*/true);
      }
      s_.running.version = version;
      s_.running_failures = 0;
      Start(LifecycleSlot::kRunning, now_);
    } else if (!s_.pinned.empty()) {
      // The newest drop waits for unpin; an older held one is let go.
      if (!s_.held.empty() && s_.held != version) {
        std::string older = std::move(s_.held);
        s_.held.clear();
        ArchiveVersion(older);
      }
      s_.held = version;
      Say(Note::kInfo,
          "running is pinned to " + s_.pinned + ": version " + version + " waits for unpin");
    } else {
      if (!s_.testing.version.empty()) {
        RejectCandidate("superseded by version " + version, Verdict::SUPERSEDE, "yoke");
      }
      s_.testing.version = version;
      Start(LifecycleSlot::kTesting, now_);
    }
  }

  void Retire(LifecycleSlot slot, bool archive) {
    SlotState& state = SlotOf(slot);
    std::string version = std::move(state.version);
    state = SlotState();
    Do(StopInstance{slot});
    if (archive) ArchiveVersion(version);
  }

  void RejectCandidate(const std::string& reason, Verdict verdict, const std::string& author,
                       bool with_figures = false) {
    if (s_.testing.version.empty()) return;
    const std::string version = s_.testing.version;
    Record(version, verdict, reason, author, with_figures);
    CloseWindowIfOpen();
    Say(Note::kWarn, "candidate " + version + " " +
                         (verdict == Verdict::SUPERSEDE ? "superseded" : "rejected") + ": " +
                         reason);
    Retire(LifecycleSlot::kTesting, /*archive=*/true);
  }

  // Vili's order: stop testing, start a fresh running instance of the candidate, wait for it
  // to be healthy, switch, drain and stop the old running, archive the old version.
  void BeginPromotion() {
    std::string version = s_.testing.version;
    Retire(LifecycleSlot::kTesting, /*archive=*/false);
    s_.incoming = SlotState();
    s_.incoming.version = std::move(version);
    Start(LifecycleSlot::kIncoming, now_);
    CloseWindowIfOpen();
  }

  void CompletePromotion() {
    const std::string old = s_.running.version;
    s_.running = s_.incoming;
    s_.running.proven = true;
    s_.running_failures = 0;
    s_.incoming = SlotState();
    Do(SwitchTraffic{old, s_.running.version});
    MaybeOpenWindow();  // a candidate that arrived meanwhile
    ArchiveVersion(old);
  }

  void Rollback(const ManualVerdict& e, bool at_once) {
    const std::string& version = e.version;
    Record(version, Verdict::ROLLBACK,
           std::string(at_once ? "at once: " : "as testing: ") + e.reason, e.author);
    Say(Note::kWarn, "rollback to " + version + (at_once ? " at once" : " as testing") + " by " +
                         e.author + ": " + e.reason);
    if (!at_once || !s_.running.proven) {
      AssignCandidate(version);
      Answer(true,
             "rolling back: " + version + (s_.running.proven ? " is testing" : " is running"));
      return;
    }
    // At once: the version becomes running through the same no-drop switch as a promotion.
    if (!s_.testing.version.empty() && s_.testing.version != version) {
      RejectCandidate("superseded by a rollback to " + version, Verdict::SUPERSEDE, e.author);
    }
    if (s_.testing.version == version) {
      BeginPromotion();
    } else {
      s_.incoming = SlotState();
      s_.incoming.version = version;
      Start(LifecycleSlot::kIncoming, now_);
      CloseWindowIfOpen();
    }
    Answer(true, "rolling back: " + version + " is starting as running");
  }

  void OnInstanceFailed(LifecycleSlot which, const std::string& why) {
    SlotState& slot = SlotOf(which);
    if (slot.version.empty()) return;
    const bool was_up = slot.up;
    // A crash after a long healthy spell resets the backoff; a failed start never does.
    const SteadyTime up_since = was_up ? slot.up_since : now_;
    slot.up = false;
    slot.up_since = SteadyTime();
    switch (which) {
      case LifecycleSlot::kIncoming: {
        // The promoted version would not start as running: stay on the old running.
        const std::string version = slot.version;
        slot = SlotState();
        Record(version, Verdict::REJECT,
               "promotion failed: the new running instance did not start: " + why, "yoke");
        Say(Note::kError,
            "promotion of " + version + " failed; " + s_.running.version + " stays running");
        ArchiveVersion(version);
        return;
      }
      case LifecycleSlot::kRunning: {
        if (s_.window_open) {
          Say(Note::kWarn, "running crashed during the evidence window: the window starts again");
          CloseWindowIfOpen();
        }
        Backoff backoff(settings_.backoff_initial, settings_.backoff_max,
                        settings_.backoff_reset_after, s_.running_failures);
        const Millis delay = backoff.OnCrash(up_since, now_);
        s_.running_failures = backoff.consecutive_crashes();
        Start(LifecycleSlot::kRunning, now_ + delay);
        if (s_.running_failures >= 3) {
          Say(Note::kWarn, "running version " + slot.version +
                               " is in a crash loop: " + std::to_string(s_.running_failures) +
                               " failures in a row; next start in " +
                               std::to_string(delay.count()) + " ms");
        } else {
          Say(Note::kInfo, "restarting running version " + slot.version + " in " +
                               std::to_string(delay.count()) + " ms");
        }
        return;
      }
      case LifecycleSlot::kTesting:
        RejectCandidate("testing instance failed: " + why, Verdict::REJECT, "judge");
        return;
    }
  }

  const LifecycleSettings& settings_;
  LifecycleState& s_;
  SteadyTime now_;
  std::vector<LifecycleAction> actions_;
};

std::vector<LifecycleAction> Lifecycle::Apply(const LifecycleEvent& event, SteadyTime now) {
  Step step(settings_, state_, now);
  std::visit(step, event);
  return step.Take();
}

Status Lifecycle::Check(const ManualVerdict& verdict) const {
  return Step::CheckManual(state_, verdict);
}

bool Lifecycle::IsReferenced(std::string_view version) const {
  return Step::Referenced(state_, version);
}

std::string_view SlotName(LifecycleSlot slot) {
  switch (slot) {
    case LifecycleSlot::kRunning:
      return "running";
    case LifecycleSlot::kTesting:
      return "testing";
    case LifecycleSlot::kIncoming:
      return "incoming";
  }
  return "running";
}

namespace {
constexpr std::pair<ManualAction, std::string_view> kManualActionNames[] = {
    {ManualAction::kPromote, "promote"},   {ManualAction::kReject, "reject"},
    {ManualAction::kPin, "pin"},           {ManualAction::kUnpin, "unpin"},
    {ManualAction::kRollback, "rollback"}, {ManualAction::kRollbackNow, "rollback-now"},
};

std::string NoteLevelName(Note::Level level) {
  switch (level) {
    case Note::kInfo:
      return "info";
    case Note::kWarn:
      return "warn";
    case Note::kError:
      return "error";
  }
  return "info";
}

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }
}  // namespace

std::string_view ManualActionName(ManualAction action) {
  for (const auto& [a, name] : kManualActionNames) {
    if (a == action) return name;
  }
  return "unknown";
}

StatusOr<ManualAction> ParseManualAction(std::string_view name) {
  for (const auto& [action, n] : kManualActionNames) {
    if (n == name) return action;
  }
  return Fail("unknown action " + std::string(name));
}

std::string Describe(const LifecycleAction& action) {
  struct Visitor {
    std::string operator()(const StartInstance& a) const {
      return "start " + std::string(SlotName(a.slot)) + " " + a.version + " at " +
             std::to_string(std::chrono::duration_cast<Millis>(a.at.time_since_epoch()).count()) +
             " ms";
    }
    std::string operator()(const StopInstance& a) const {
      return "stop " + std::string(SlotName(a.slot));
    }
    std::string operator()(const SwitchTraffic& a) const {
      return "switch from " + a.from + " to " + a.to;
    }
    std::string operator()(const OpenWindow& a) const {
      return "open window " + a.testing + " against " + a.running;
    }
    std::string operator()(const CloseWindow&) const { return "close window"; }
    std::string operator()(const Archive& a) const { return "archive " + a.version; }
    std::string operator()(const RecordDecision& a) const {
      return "record " + Verdict_Name(a.verdict) + " " + (a.from.empty() ? "none" : a.from) +
             " -> " + a.to + " by " + a.author + ": " + Quoted(a.reason) +
             (a.with_figures ? " with figures" : "");
    }
    std::string operator()(const Reply& a) const {
      return std::string(a.ok ? "reply ok: " : "reply error: ") + Quoted(a.text);
    }
    std::string operator()(const Note& a) const {
      return "note " + NoteLevelName(a.level) + ": " + Quoted(a.text);
    }
  };
  return std::visit(Visitor{}, action);
}

std::string Describe(const LifecycleState& state) {
  auto slot = [](const char* name, const SlotState& s) {
    std::string out = std::string(name) + "=" + (s.version.empty() ? "-" : s.version);
    if (s.up) out += "(up)";
    if (s.proven) out += "(proven)";
    return out;
  };
  std::string out = slot("running", state.running) + " " + slot("testing", state.testing) + " " +
                    slot("incoming", state.incoming);
  if (!state.pinned.empty()) out += " pinned=" + state.pinned;
  if (!state.held.empty()) out += " held=" + state.held;
  if (state.window_open) out += " window-open";
  if (state.running_failures) out += " failures=" + std::to_string(state.running_failures);
  return out;
}

}  // namespace yoke
