// The lifecycle as tables: (state, event) -> (state, actions). Long because each row spells out
// a whole state and every action, which is the point: a reader checks a row without running it.
#include "core/lifecycle.h"

#include <gtest/gtest.h>

#include <ostream>

// The tables name only the fields a row sets (designated initializers); the rest keep their
// defaults on purpose, which -Wextra would otherwise report for every row.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace yoke {

// How gtest prints what differs: one line each.
std::ostream& operator<<(std::ostream& os, const LifecycleState& s) { return os << Describe(s); }
#define YOKE_PRINT_AS_DESCRIBED(Type)                              \
  std::ostream& operator<<(std::ostream& os, const Type& action) { \
    return os << Describe(LifecycleAction(action));                \
  }
YOKE_PRINT_AS_DESCRIBED(StartInstance)
YOKE_PRINT_AS_DESCRIBED(StopInstance)
YOKE_PRINT_AS_DESCRIBED(SwitchTraffic)
YOKE_PRINT_AS_DESCRIBED(OpenWindow)
YOKE_PRINT_AS_DESCRIBED(CloseWindow)
YOKE_PRINT_AS_DESCRIBED(Archive)
YOKE_PRINT_AS_DESCRIBED(RecordDecision)
YOKE_PRINT_AS_DESCRIBED(Reply)
YOKE_PRINT_AS_DESCRIBED(Note)
#undef YOKE_PRINT_AS_DESCRIBED

namespace {

using R = LifecycleSlot;
using Actions = std::vector<LifecycleAction>;

const SteadyTime kT0 = SteadyTime(Millis(1'000'000));  // every row happens at kT0
const SteadyTime kEarlier = kT0 - Millis(600'000);     // when instances that are up came up
const LifecycleSettings kSettings{Millis(500), Millis(2000), Millis(60'000)};

// An instance that has been up a while.
SlotState Up(const std::string& v) {
  return {.version = v, .up = true, .proven = true, .up_since = kEarlier};
}
// An instance that came up at kT0.
SlotState UpNow(const std::string& v) {
  return {.version = v, .up = true, .proven = true, .up_since = kT0};
}
// Starting, or waiting to start, and never healthy in this slot.
SlotState Starting(const std::string& v) { return {.version = v}; }
// Healthy before, and now waiting for its restart.
SlotState Down(const std::string& v) { return {.version = v, .proven = true}; }

ManualVerdict Manual(ManualAction action, const std::string& version = "") {
  return {action, version, "why", "ada"};
}

// The actions without the log lines: what the daemon does.
Actions WithoutNotes(const Actions& actions) {
  Actions out;
  for (const auto& a : actions) {
    if (!std::holds_alternative<Note>(a)) out.push_back(a);
  }
  return out;
}

std::vector<Note> NotesOf(const Actions& actions) {
  std::vector<Note> out;
  for (const auto& a : actions) {
    if (auto* note = std::get_if<Note>(&a)) out.push_back(*note);
  }
  return out;
}

// One row of a table: (state, event) -> (state, actions), the log lines left out.
struct Row {
  std::string what;
  LifecycleState before;
  LifecycleEvent event;
  LifecycleState after;
  Actions actions;
};

void RunTable(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    Lifecycle lifecycle(kSettings, row.before);
    Actions actions = WithoutNotes(lifecycle.Apply(row.event, kT0));
    EXPECT_EQ(lifecycle.state(), row.after);
    EXPECT_EQ(actions, row.actions);
  }
}

// A running instance that has been healthy, with a candidate up and judged against it.
const LifecycleState kJudging{.running = Up("1.0.0"), .testing = Up("2.0.0"), .window_open = true};

// New versions: the first runs outright, a replacement for a running that never became healthy
// takes its place, later ones are tested, and a drop of a version yoke holds is ignored.
TEST(LifecycleTest, AssignsArrivingVersions) {
  RunTable({
      {"the first version runs",
       {},
       ArtifactArrived{"1.0.0"},
       {.running = Starting("1.0.0")},
       {StartInstance{R::kRunning, "1.0.0", kT0}}},
      {"a running that never became healthy is replaced and archived",
       {.running = Starting("1.0.0"), .running_failures = 2},
       ArtifactArrived{"1.0.1"},
       {.running = Starting("1.0.1")},
       {StopInstance{R::kRunning}, Archive{"1.0.0"}, StartInstance{R::kRunning, "1.0.1", kT0}}},
      {"once running is proven, a new version is the candidate",
       {.running = Up("1.0.0")},
       ArtifactArrived{"2.0.0"},
       {.running = Up("1.0.0"), .testing = Starting("2.0.0")},
       {StartInstance{R::kTesting, "2.0.0", kT0}}},
      {"a crashed running waiting for its restart is still proven",
       {.running = Down("1.0.0"), .running_failures = 1},
       ArtifactArrived{"2.0.0"},
       {.running = Down("1.0.0"), .testing = Starting("2.0.0"), .running_failures = 1},
       {StartInstance{R::kTesting, "2.0.0", kT0}}},
      {"during a promotion a new version waits as testing",
       {.running = Up("1.0.0"), .incoming = Starting("2.0.0")},
       ArtifactArrived{"3.0.0"},
       {.running = Up("1.0.0"), .testing = Starting("3.0.0"), .incoming = Starting("2.0.0")},
       {StartInstance{R::kTesting, "3.0.0", kT0}}},
      {"a drop of the version under test is ignored",
       kJudging,
       ArtifactArrived{"2.0.0"},
       kJudging,
       {}},
      {"a drop of the running version is ignored",
       kJudging,
       ArtifactArrived{"1.0.0"},
       kJudging,
       {}},
  });
}

// A newer candidate supersedes the one under test, with a decision; so does an older number
// (docs/config.md: dropping an older version is how an operator tests a rollback).
TEST(LifecycleTest, SupersedesTheCandidateUnderTest) {
  RunTable({
      {"a newer version supersedes the candidate",
       kJudging,
       ArtifactArrived{"3.0.0"},
       {.running = Up("1.0.0"), .testing = Starting("3.0.0")},
       {RecordDecision{"1.0.0", "2.0.0", Verdict::SUPERSEDE, "superseded by version 3.0.0", "yoke"},
        CloseWindow{}, StopInstance{R::kTesting}, Archive{"2.0.0"},
        StartInstance{R::kTesting, "3.0.0", kT0}}},
      {"a candidate still starting is superseded too (no window to close)",
       {.running = Up("1.0.0"), .testing = Starting("2.0.0")},
       ArtifactArrived{"3.0.0"},
       {.running = Up("1.0.0"), .testing = Starting("3.0.0")},
       {RecordDecision{"1.0.0", "2.0.0", Verdict::SUPERSEDE, "superseded by version 3.0.0", "yoke"},
        StopInstance{R::kTesting}, Archive{"2.0.0"}, StartInstance{R::kTesting, "3.0.0", kT0}}},
      {"an older number supersedes as well",
       kJudging,
       ArtifactArrived{"0.9.0"},
       {.running = Up("1.0.0"), .testing = Starting("0.9.0")},
       {RecordDecision{"1.0.0", "2.0.0", Verdict::SUPERSEDE, "superseded by version 0.9.0", "yoke"},
        CloseWindow{}, StopInstance{R::kTesting}, Archive{"2.0.0"},
        StartInstance{R::kTesting, "0.9.0", kT0}}},
  });
}

// Pinning keeps running where it is: the candidate is rejected, later ones are held (the
// newest only), and unpin tests the held one.
TEST(LifecycleTest, PinsAndUnpins) {
  const LifecycleState pinned{.running = Up("1.0.0"), .pinned = "1.0.0"};
  RunTable({
      {"pin rejects the candidate",
       kJudging,
       Manual(ManualAction::kPin, "1.0.0"),
       pinned,
       {RecordDecision{"1.0.0", "1.0.0", Verdict::PIN, "why", "ada"},
        RecordDecision{"1.0.0", "2.0.0", Verdict::REJECT, "running pinned to 1.0.0: why", "ada"},
        CloseWindow{}, StopInstance{R::kTesting}, Archive{"2.0.0"}, Reply{true, "pinned 1.0.0"}}},
      {"only the running version can be pinned",
       kJudging,
       Manual(ManualAction::kPin, "2.0.0"),
       kJudging,
       {Reply{false, "only the running version can be pinned; running is 1.0.0"}}},
      {"no pin during a promotion",
       {.running = Up("1.0.0"), .incoming = Starting("2.0.0")},
       Manual(ManualAction::kPin, "1.0.0"),
       {.running = Up("1.0.0"), .incoming = Starting("2.0.0")},
       {Reply{false, "a promotion to 2.0.0 is under way; pin once it is done"}}},
      {"a version arriving while pinned is held",
       pinned,
       ArtifactArrived{"2.0.0"},
       {.running = Up("1.0.0"), .pinned = "1.0.0", .held = "2.0.0"},
       {}},
      {"a newer arrival replaces the held one, which is archived",
       {.running = Up("1.0.0"), .pinned = "1.0.0", .held = "2.0.0"},
       ArtifactArrived{"3.0.0"},
       {.running = Up("1.0.0"), .pinned = "1.0.0", .held = "3.0.0"},
       {Archive{"2.0.0"}}},
      {"unpin tests the held version",
       {.running = Up("1.0.0"), .pinned = "1.0.0", .held = "3.0.0"},
       Manual(ManualAction::kUnpin),
       {.running = Up("1.0.0"), .testing = Starting("3.0.0")},
       {RecordDecision{"1.0.0", "1.0.0", Verdict::PIN, "unpin: why", "ada"},
        StartInstance{R::kTesting, "3.0.0", kT0}, Reply{true, "unpinned; testing 3.0.0"}}},
      {"unpin forgets a held version whose artifact is gone",
       {.running = Up("1.0.0"), .pinned = "1.0.0", .held = "3.0.0"},
       ManualVerdict{ManualAction::kUnpin, "", "why", "ada", /*held_on_disk=*/false},
       {.running = Up("1.0.0")},
       {RecordDecision{"1.0.0", "1.0.0", Verdict::PIN, "unpin: why", "ada"},
        Reply{true, "unpinned; testing 3.0.0"}}},
      {"unpin with nothing held",
       pinned,
       Manual(ManualAction::kUnpin),
       {.running = Up("1.0.0")},
       {RecordDecision{"1.0.0", "1.0.0", Verdict::PIN, "unpin: why", "ada"},
        Reply{true, "unpinned"}}},
      {"unpin with nothing pinned",
       kJudging,
       Manual(ManualAction::kUnpin),
       kJudging,
       {Reply{false, "nothing is pinned"}}},
  });
}

// A rollback as testing makes the version the candidate; at once, it comes in as running
// through the promotion's switch; while running was never healthy it simply runs.
TEST(LifecycleTest, RollsBack) {
  const LifecycleState after_promotion{.running = Up("2.0.0")};
  RunTable({
      {"as testing",
       after_promotion,
       Manual(ManualAction::kRollback, "1.0.0"),
       {.running = Up("2.0.0"), .testing = Starting("1.0.0")},
       {RecordDecision{"2.0.0", "1.0.0", Verdict::ROLLBACK, "as testing: why", "ada"},
        StartInstance{R::kTesting, "1.0.0", kT0}, Reply{true, "rolling back: 1.0.0 is testing"}}},
      {"as testing, superseding the candidate",
       {.running = Up("2.0.0"), .testing = Up("3.0.0"), .window_open = true},
       Manual(ManualAction::kRollback, "1.0.0"),
       {.running = Up("2.0.0"), .testing = Starting("1.0.0")},
       {RecordDecision{"2.0.0", "1.0.0", Verdict::ROLLBACK, "as testing: why", "ada"},
        RecordDecision{"2.0.0", "3.0.0", Verdict::SUPERSEDE, "superseded by version 1.0.0", "yoke"},
        CloseWindow{}, StopInstance{R::kTesting}, Archive{"3.0.0"},
        StartInstance{R::kTesting, "1.0.0", kT0}, Reply{true, "rolling back: 1.0.0 is testing"}}},
      {"at once",
       after_promotion,
       Manual(ManualAction::kRollbackNow, "1.0.0"),
       {.running = Up("2.0.0"), .incoming = Starting("1.0.0")},
       {RecordDecision{"2.0.0", "1.0.0", Verdict::ROLLBACK, "at once: why", "ada"},
        StartInstance{R::kIncoming, "1.0.0", kT0},
        Reply{true, "rolling back: 1.0.0 is starting as running"}}},
      {"at once, superseding another candidate",
       {.running = Up("2.0.0"), .testing = Up("3.0.0"), .window_open = true},
       Manual(ManualAction::kRollbackNow, "1.0.0"),
       {.running = Up("2.0.0"), .incoming = Starting("1.0.0")},
       {RecordDecision{"2.0.0", "1.0.0", Verdict::ROLLBACK, "at once: why", "ada"},
        RecordDecision{"2.0.0", "3.0.0", Verdict::SUPERSEDE, "superseded by a rollback to 1.0.0",
                       "ada"},
        CloseWindow{}, StopInstance{R::kTesting}, Archive{"3.0.0"},
        StartInstance{R::kIncoming, "1.0.0", kT0},
        Reply{true, "rolling back: 1.0.0 is starting as running"}}},
      {"at once, to the version under test: it is promoted",
       {.running = Up("2.0.0"), .testing = Up("1.0.0"), .window_open = true},
       Manual(ManualAction::kRollbackNow, "1.0.0"),
       {.running = Up("2.0.0"), .incoming = Starting("1.0.0")},
       {RecordDecision{"2.0.0", "1.0.0", Verdict::ROLLBACK, "at once: why", "ada"},
        StopInstance{R::kTesting}, StartInstance{R::kIncoming, "1.0.0", kT0}, CloseWindow{},
        Reply{true, "rolling back: 1.0.0 is starting as running"}}},
      {"at once while running never became healthy: it runs",
       {.running = Starting("2.0.0")},
       Manual(ManualAction::kRollbackNow, "1.0.0"),
       {.running = Starting("1.0.0")},
       {RecordDecision{"2.0.0", "1.0.0", Verdict::ROLLBACK, "at once: why", "ada"},
        StopInstance{R::kRunning}, Archive{"2.0.0"}, StartInstance{R::kRunning, "1.0.0", kT0},
        Reply{true, "rolling back: 1.0.0 is running"}}},
  });
}

// A rollback is refused, with nothing recorded, while pinned, during a promotion, to the
// running version, to the candidate as testing, or to something that is not a version.
TEST(LifecycleTest, RefusesRollbacks) {
  const LifecycleState pinned{.running = Up("2.0.0"), .pinned = "2.0.0"};
  const LifecycleState promoting{.running = Up("2.0.0"), .incoming = Starting("3.0.0")};
  const LifecycleState judging{.running = Up("2.0.0"), .testing = Up("1.0.0"), .window_open = true};
  RunTable({
      {"pinned",
       pinned,
       Manual(ManualAction::kRollback, "1.0.0"),
       pinned,
       {Reply{false, "running is pinned to 2.0.0; unpin first"}}},
      {"promoting",
       promoting,
       Manual(ManualAction::kRollbackNow, "1.0.0"),
       promoting,
       {Reply{false, "a promotion to 3.0.0 is under way; roll back once it is done"}}},
      {"running already",
       judging,
       Manual(ManualAction::kRollbackNow, "2.0.0"),
       judging,
       {Reply{false, "2.0.0 is running already"}}},
      {"testing already",
       judging,
       Manual(ManualAction::kRollback, "1.0.0"),
       judging,
       {Reply{false, "1.0.0 is testing already"}}},
      {"no version",
       judging,
       Manual(ManualAction::kRollback),
       judging,
       {Reply{false, "say which version to roll back to"}}},
      {"a path",
       judging,
       Manual(ManualAction::kRollback, "../../etc"),
       judging,
       {Reply{false, "not a version: use letters, digits, '.', '_', '+' and '-' (at most 128)"}}},
  });
  Lifecycle lifecycle(kSettings, pinned);
  auto refusal = lifecycle.Check(Manual(ManualAction::kRollback, "1.0.0"));
  ASSERT_FALSE(refusal);
  EXPECT_EQ(refusal.error().message(), "running is pinned to 2.0.0; unpin first");
  EXPECT_TRUE(lifecycle.Check(Manual(ManualAction::kUnpin)));
}

// Promotion, by the judge or by hand: testing stops, the candidate starts as incoming, and
// once it is up traffic switches to it and the old version is archived.
TEST(LifecycleTest, PromotesInVilisOrder) {
  const LifecycleState promoting{.running = Up("1.0.0"), .incoming = Starting("2.0.0")};
  RunTable({
      {"the judge promotes",
       kJudging,
       Judged{JudgeVerdict::kPromote, "not worse"},
       promoting,
       {RecordDecision{"1.0.0", "2.0.0", Verdict::PROMOTE, "not worse", "judge", true},
        StopInstance{R::kTesting}, StartInstance{R::kIncoming, "2.0.0", kT0}, CloseWindow{}}},
      {"the judge waits", kJudging, Judged{JudgeVerdict::kWait, "too early"}, kJudging, {}},
      {"no judgement counts without a window",
       {.running = Up("1.0.0"), .testing = Starting("2.0.0")},
       Judged{JudgeVerdict::kPromote, "stale"},
       {.running = Up("1.0.0"), .testing = Starting("2.0.0")},
       {}},
      {"an operator promotes a candidate that is still starting",
       {.running = Up("1.0.0"), .testing = Starting("2.0.0")},
       Manual(ManualAction::kPromote),
       promoting,
       {RecordDecision{"1.0.0", "2.0.0", Verdict::PROMOTE, "why", "ada"}, StopInstance{R::kTesting},
        StartInstance{R::kIncoming, "2.0.0", kT0}, Reply{true, "promoting 2.0.0"}}},
      {"no candidate to promote",
       promoting,
       Manual(ManualAction::kPromote),
       promoting,
       {Reply{false, "there is no candidate under test"}}},
      {"the new running is up: switch, and archive the old",
       promoting,
       InstanceUp{R::kIncoming},
       {.running = UpNow("2.0.0")},
       {SwitchTraffic{"1.0.0", "2.0.0"}, Archive{"1.0.0"}}},
      {"a candidate that came up meanwhile is judged against the new running",
       {.running = Up("1.0.0"), .testing = Up("3.0.0"), .incoming = Starting("2.0.0")},
       InstanceUp{R::kIncoming},
       {.running = UpNow("2.0.0"), .testing = Up("3.0.0"), .window_open = true},
       {SwitchTraffic{"1.0.0", "2.0.0"}, OpenWindow{"2.0.0", "3.0.0"}, Archive{"1.0.0"}}},
      {"the new running does not start: the old one stays",
       promoting,
       StartFailed{R::kIncoming, "exited during startup with exit code 3"},
       {.running = Up("1.0.0")},
       {RecordDecision{"1.0.0", "2.0.0", Verdict::REJECT,
                       "promotion failed: the new running instance did not start: exited during "
                       "startup with exit code 3",
                       "yoke"},
        Archive{"2.0.0"}}},
  });
}

// A candidate is rejected by the judge (with its figures), by hand, or when its instance fails.
TEST(LifecycleTest, RejectsTheCandidate) {
  const LifecycleState alone{.running = Up("1.0.0")};
  RunTable({
      {"the judge rejects",
       kJudging,
       Judged{JudgeVerdict::kReject, "5xx worse"},
       alone,
       {RecordDecision{"1.0.0", "2.0.0", Verdict::REJECT, "5xx worse", "judge", true},
        CloseWindow{}, StopInstance{R::kTesting}, Archive{"2.0.0"}}},
      {"an operator rejects",
       kJudging,
       Manual(ManualAction::kReject),
       alone,
       {RecordDecision{"1.0.0", "2.0.0", Verdict::REJECT, "why", "ada"}, CloseWindow{},
        StopInstance{R::kTesting}, Archive{"2.0.0"}, Reply{true, "rejected 2.0.0"}}},
      {"nothing to reject",
       alone,
       Manual(ManualAction::kReject),
       alone,
       {Reply{false, "there is no candidate under test"}}},
      {"testing crashes under test",
       kJudging,
       InstanceExited{R::kTesting, "exited while up with signal 9"},
       alone,
       {RecordDecision{"1.0.0", "2.0.0", Verdict::REJECT,
                       "testing instance failed: exited while up with signal 9", "judge"},
        CloseWindow{}, StopInstance{R::kTesting}, Archive{"2.0.0"}}},
      {"testing never becomes healthy",
       {.running = Up("1.0.0"), .testing = Starting("2.0.0")},
       StartFailed{R::kTesting, "not healthy within 3000 ms"},
       alone,
       {RecordDecision{"1.0.0", "2.0.0", Verdict::REJECT,
                       "testing instance failed: not healthy within 3000 ms", "judge"},
        StopInstance{R::kTesting}, Archive{"2.0.0"}}},
  });
}

// Instances coming up: the window opens once both are up and no promotion is under way.
TEST(LifecycleTest, OpensTheWindowWhenBothAreUp) {
  RunTable({
      {"running up, no candidate",
       {.running = Starting("1.0.0")},
       InstanceUp{R::kRunning},
       {.running = UpNow("1.0.0")},
       {}},
      {"testing up beside running",
       {.running = Up("1.0.0"), .testing = Starting("2.0.0")},
       InstanceUp{R::kTesting},
       {.running = Up("1.0.0"), .testing = UpNow("2.0.0"), .window_open = true},
       {OpenWindow{"1.0.0", "2.0.0"}}},
      {"running back after a crash, testing up",
       {.running = Down("1.0.0"), .testing = Up("2.0.0"), .running_failures = 1},
       InstanceUp{R::kRunning},
       {.running = UpNow("1.0.0"),
        .testing = Up("2.0.0"),
        .window_open = true,
        .running_failures = 1},
       {OpenWindow{"1.0.0", "2.0.0"}}},
      {"testing up during a promotion: no window",
       {.running = Up("1.0.0"), .testing = Starting("3.0.0"), .incoming = Starting("2.0.0")},
       InstanceUp{R::kTesting},
       {.running = Up("1.0.0"), .testing = UpNow("3.0.0"), .incoming = Starting("2.0.0")},
       {}},
  });
}

// A running instance that fails to start, or crashes, is started again after its backoff;
// a crash closes the window, which reopens when running is back.
TEST(LifecycleTest, RestartsAFailedRunningAfterBackoff) {
  RunTable({
      {"a failed first start",
       {.running = Starting("1.0.0")},
       StartFailed{R::kRunning, "cannot be executed"},
       {.running = Starting("1.0.0"), .running_failures = 1},
       {StartInstance{R::kRunning, "1.0.0", kT0 + Millis(500)}}},
      {"a crash during the window",
       kJudging,
       InstanceExited{R::kRunning, "exited while up with exit code 3"},
       {.running = Down("1.0.0"), .testing = Up("2.0.0"), .running_failures = 1},
       {CloseWindow{}, StartInstance{R::kRunning, "1.0.0", kT0 + Millis(500)}}},
      {"a crash after a long healthy spell starts the backoff over",
       {.running = Up("1.0.0"), .running_failures = 4},
       InstanceExited{R::kRunning, "exited while up with exit code 3"},
       {.running = Down("1.0.0"), .running_failures = 1},
       {StartInstance{R::kRunning, "1.0.0", kT0 + Millis(500)}}},
  });
}

// A crash loop: 500, 1000, 2000, 2000 ms between starts, never a spin, and the log says so
// from the third failure in a row.
TEST(LifecycleTest, BacksOffInACrashLoop) {
  Lifecycle lifecycle(kSettings);
  SteadyTime now = kT0;
  lifecycle.Apply(ArtifactArrived{"1.0.0"}, now);
  lifecycle.Apply(InstanceUp{R::kRunning}, now);
  std::vector<Note> last_notes;
  for (Millis delay : {Millis(500), Millis(1000), Millis(2000), Millis(2000)}) {
    now += Millis(10);
    Actions actions = lifecycle.Apply(InstanceExited{R::kRunning, "exit code 3"}, now);
    EXPECT_EQ(WithoutNotes(actions), (Actions{StartInstance{R::kRunning, "1.0.0", now + delay}}));
    last_notes = NotesOf(actions);
    now += delay;
    lifecycle.Apply(InstanceUp{R::kRunning}, now);
  }
  EXPECT_EQ(lifecycle.state().running_failures, 4);
  ASSERT_EQ(last_notes.size(), 1u);
  EXPECT_EQ(last_notes[0].level, Note::kWarn);
  EXPECT_EQ(last_notes[0].text,
            "running version 1.0.0 is in a crash loop: 4 failures in a row; next start in 2000 ms");
}

// After a restart (kill -9 included) the journal's versions come back in their roles and start
// again; a duplicate is dropped, a lone candidate runs, a promotion under way goes on.
TEST(LifecycleTest, ResumesFromTheJournal) {
  RunTable({
      {"running and testing",
       {},
       Resume{.running = "1.0.0", .testing = "2.0.0"},
       {.running = Down("1.0.0"), .testing = Starting("2.0.0")},
       {StartInstance{R::kRunning, "1.0.0", kT0}, StartInstance{R::kTesting, "2.0.0", kT0}}},
      {"a promotion under way",
       {},
       Resume{.running = "1.0.0", .incoming = "2.0.0"},
       {.running = Down("1.0.0"), .incoming = Starting("2.0.0")},
       {StartInstance{R::kRunning, "1.0.0", kT0}, StartInstance{R::kIncoming, "2.0.0", kT0}}},
      {"testing naming running's version is dropped",
       {},
       Resume{.running = "1.0.0", .testing = "1.0.0"},
       {.running = Down("1.0.0")},
       {StartInstance{R::kRunning, "1.0.0", kT0}}},
      {"a candidate alone runs, not proven",
       {},
       Resume{.testing = "2.0.0"},
       {.running = Starting("2.0.0")},
       {StartInstance{R::kRunning, "2.0.0", kT0}}},
      {"pin and held version kept",
       {},
       Resume{.running = "1.0.0", .pinned = "1.0.0", .held = "3.0.0"},
       {.running = Down("1.0.0"), .pinned = "1.0.0", .held = "3.0.0"},
       {StartInstance{R::kRunning, "1.0.0", kT0}}},
      {"whatever the loop had in memory is replaced",
       kJudging,
       Resume{.running = "1.0.0"},
       {.running = Down("1.0.0")},
       {StartInstance{R::kRunning, "1.0.0", kT0}}},
  });
}

// kill -9 in the middle of a promotion, then the whole way back: both start again, the new
// running comes up and takes over, and the old version is archived.
TEST(LifecycleTest, FinishesAPromotionAfterKill9) {
  Lifecycle lifecycle(kSettings);
  lifecycle.Apply(Resume{.running = "1.0.0", .incoming = "2.0.0"}, kT0);
  EXPECT_TRUE(WithoutNotes(lifecycle.Apply(InstanceUp{R::kRunning}, kT0)).empty());
  EXPECT_TRUE(lifecycle.IsReferenced("2.0.0"));
  EXPECT_EQ(lifecycle.Apply(InstanceUp{R::kIncoming}, kT0),
            (Actions{SwitchTraffic{"1.0.0", "2.0.0"}, Archive{"1.0.0"}}));
  EXPECT_EQ(lifecycle.state(), (LifecycleState{.running = UpNow("2.0.0")}));
  EXPECT_FALSE(lifecycle.IsReferenced("1.0.0"));
}

// A manual action's name round-trips; anything else is refused by name.
TEST(LifecycleTest, ParsesManualActions) {
  for (ManualAction action :
       {ManualAction::kPromote, ManualAction::kReject, ManualAction::kPin, ManualAction::kUnpin,
        ManualAction::kRollback, ManualAction::kRollbackNow}) {
    auto parsed = ParseManualAction(ManualActionName(action));
    ASSERT_TRUE(parsed) << ManualActionName(action);
    EXPECT_EQ(*parsed, action);
  }
  auto unknown = ParseManualAction("promote-now");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "unknown action promote-now");
}

}  // namespace
}  // namespace yoke
