// The supervisor loop, stepped by a fake clock with a fake launcher and probe over a real base
// folder (through a FaultEnv that can fill the disk). Over 500 lines: one fixture serves every
// scenario of the loop, and splitting it would copy the fixture.
#include "supervisor/daemon/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "base-layout/text_record.h"
#include "platform/posix_env.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_process.h"
#include "tests/fakes/fault_env.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::FakeLauncher;
using testing::FakeProbe;
using testing::WriteAll;

// The supervisor loop driven by a fake clock, launcher and probe: no process, no sleep.
class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() {
    config_.set_service("hello");
    config_.set_base_dir(dir_.path().string());
    config_.set_command("{artifact} --port {port}");
    config_.mutable_intake()->set_settle_ms(1000);
    config_.mutable_health()->set_timeout_ms(3000);
    config_.mutable_health()->set_interval_ms(100);
    config_.mutable_restart_backoff()->set_initial_ms(500);
    config_.mutable_restart_backoff()->set_max_ms(2000);
    config_.set_stop_grace_ms(5000);
    config_.mutable_port_range()->set_first(30000);
    config_.mutable_port_range()->set_last(30009);
  }

  void StartSupervisor() {
    supervisor_ = std::make_unique<Supervisor>(
        config_, BaseFolder(dir_.path(), "hello", &env_),
        SupervisorDeps{&clock_, &launcher_, &probe_, [](uint16_t) { return true; }, "host1"});
    ASSERT_TRUE(supervisor_->Start());
  }

  void Tick(Millis advance = Millis(0)) {
    clock_.Advance(advance);
    supervisor_->Tick();
  }

  // Drops an artifact and ticks until it has settled and been taken in.
  void DropAndSettle(const std::string& name) {
    WriteAll(dir_.path() / name, "#!/bin/sh\n");
    Tick();
    Tick(Millis(1000));
  }

  std::vector<fs::path> Decisions() {
    std::vector<fs::path> out;
    for (auto& e : fs::directory_iterator(dir_.path() / "decisions")) out.push_back(e.path());
    return out;
  }

  testing::TempDir dir_;
  testing::FaultEnv env_{PosixEnv()};  // the real disk, with free space the test may set
  FakeClock clock_;
  FakeLauncher launcher_;
  FakeProbe probe_;
  Config config_;
  std::unique_ptr<Supervisor> supervisor_;
};

// A file that keeps changing is not taken in until it has been still for settle_ms.
TEST_F(SupervisorTest, TakesInOnlyAfterTheFileStopsChanging) {
  StartSupervisor();
  WriteAll(dir_.path() / "hello-1.0.0", "part");
  Tick();
  Tick(Millis(900));
  WriteAll(dir_.path() / "hello-1.0.0", "part and more");  // still being copied
  Tick(Millis(200));
  Tick(Millis(900));
  EXPECT_EQ(launcher_.starts, 0);
  EXPECT_TRUE(fs::exists(dir_.path() / "hello-1.0.0"));
  Tick(Millis(100));
  EXPECT_EQ(launcher_.starts, 1);
  EXPECT_FALSE(fs::exists(dir_.path() / "hello-1.0.0"));
  EXPECT_EQ(launcher_.children[0]->spec.argv[0],
            (dir_.path() / "versions" / "1.0.0" / "hello-1.0.0").string());
}

// Below the free-space floor a settled candidate waits where it is, /status says why, and it is
// taken in once space is freed. An empty artifact is never taken in.
TEST_F(SupervisorTest, WaitsForFreeSpaceAndRefusesAnEmptyArtifact) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  ASSERT_EQ(launcher_.starts, 1);
  EXPECT_FALSE(supervisor_->Snapshot().disk().low());

  env_.SetFreeBytes(kGiB / 2, 100 * kGiB);  // the floor: min(1 GiB, 5 GiB)
  DropAndSettle("hello-2.0.0");
  for (int i = 0; i < 5; ++i) Tick(Millis(1000));
  EXPECT_EQ(launcher_.starts, 1);
  EXPECT_TRUE(fs::exists(dir_.path() / "hello-2.0.0"));
  DiskStatus disk = supervisor_->Snapshot().disk();
  EXPECT_TRUE(disk.low());
  EXPECT_EQ(disk.floor_bytes(), kGiB);
  EXPECT_EQ(disk.free_bytes(), kGiB / 2);

  env_.SetFreeBytes(10 * kGiB, 100 * kGiB);
  Tick();
  Tick();
  EXPECT_EQ(launcher_.starts, 2);
  EXPECT_EQ(supervisor_->Snapshot().testing().version(), "2.0.0");
  EXPECT_FALSE(supervisor_->Snapshot().disk().low());

  WriteAll(dir_.path() / "hello-3.0.0", "");
  for (int i = 0; i < 4; ++i) Tick(Millis(1000));
  EXPECT_EQ(launcher_.starts, 2);
  EXPECT_TRUE(fs::exists(dir_.path() / "hello-3.0.0"));
  EXPECT_FALSE(fs::exists(dir_.path() / "versions" / "3.0.0"));
}

// Archiving runs beside the loop: while a rejected candidate's folder is being zipped (held up
// here until the test lets it go), ticks go on, a crash of running is restarted, a new drop of
// the version being archived waits, and a rollback to it waits for the zip, then restores it.
TEST_F(SupervisorTest, ArchivingNeverHoldsUpTheLoop) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int zips_started = 0;
  BaseFolder base(dir_.path(), "hello", PosixEnv());
  Archiver archiver(
      [&](const std::string& version) {
        {
          std::unique_lock lock(mu);
          ++zips_started;
          cv.notify_all();
          cv.wait(lock, [&] { return release; });
        }
        return base.ArchiveVersion(version);
      },
      Archiver::Mode::kBackground);
  SupervisorDeps deps{&clock_, &launcher_, &probe_, [](uint16_t) { return true; }, "host1"};
  deps.archiver = &archiver;
  supervisor_ = std::make_unique<Supervisor>(config_, base, deps);
  ASSERT_TRUE(supervisor_->Start());
  DropAndSettle("hello-1.0.0");
  Tick();
  probe_.healthy = false;
  DropAndSettle("hello-2.0.0");
  Tick(Millis(3000));  // not healthy in time: rejected, and its folder goes to the archiver
  probe_.healthy = true;
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return zips_started == 1; }));
  }
  EXPECT_TRUE(archiver.Busy("2.0.0"));

  // The loop goes on: running crashes and is restarted after its backoff.
  const int starts = launcher_.starts;
  launcher_.children[0]->exit = ExitInfo{1, 0};
  Tick();
  Tick(Millis(500));
  EXPECT_EQ(launcher_.starts, starts + 1);
  Tick();
  // A new artifact of the version being archived waits where it is.
  DropAndSettle("hello-2.0.0");
  Tick(Millis(1000));
  EXPECT_TRUE(fs::exists(dir_.path() / "hello-2.0.0"));
  // A rollback to it waits for the zip.
  auto rollback = supervisor_->RequestVerdict(ManualAction::kRollback, "back", "op", "2.0.0");
  Tick();
  EXPECT_NE(rollback.wait_for(std::chrono::seconds(0)), std::future_status::ready);

  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (int i = 0; i < 200 && archiver.Busy("2.0.0"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(archiver.Busy("2.0.0"));
  Tick();
  EXPECT_EQ(supervisor_->Snapshot().supervisor().versions_archived(), 1);
  ASSERT_EQ(rollback.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  auto answer = rollback.get();
  EXPECT_TRUE(answer) << answer.error().message();
}

// A decision whose write fails (a full disk) is kept and written at a later tick, once; the
// journal likewise. Nothing the loop decided is lost.
TEST_F(SupervisorTest, ADecisionThatCannotBeWrittenIsWrittenLater) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  probe_.healthy = false;
  DropAndSettle("hello-2.0.0");
  Tick(Millis(2999));
  env_.FailFrom(env_.mutations() + 1);  // the disk is full from here on
  Tick(Millis(1));                      // the candidate is rejected
  EXPECT_EQ(supervisor_->Snapshot().testing().version(), "");
  Tick();
  EXPECT_TRUE(Decisions().empty());
  EXPECT_GT(env_.failures(), 0);
  env_.FailFrom(0);  // space freed
  Tick();
  auto decisions = Decisions();
  ASSERT_EQ(decisions.size(), 1u);
  Decision decision;
  ASSERT_TRUE(ReadTextRecord(*PosixEnv(), decisions[0], &decision));
  EXPECT_EQ(decision.verdict(), Verdict::REJECT);
  Journal journal;
  ASSERT_TRUE(ReadTextRecord(*PosixEnv(), dir_.path() / "state" / "journal.txtpb", &journal));
  EXPECT_EQ(journal.running().version(), "1.0.0");
  EXPECT_FALSE(journal.has_testing());
  Tick();
  EXPECT_EQ(Decisions().size(), 1u);
}

// The first version runs; a later one is started as testing beside it on its own port.
TEST_F(SupervisorTest, FirstVersionRunsAndALaterOneIsTested) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  auto snap = supervisor_->Snapshot();
  EXPECT_EQ(snap.running().version(), "1.0.0");
  EXPECT_TRUE(snap.running().up());
  EXPECT_TRUE(fs::is_symlink(dir_.path() / "running"));
  DropAndSettle("hello-2.0.0");
  Tick();
  snap = supervisor_->Snapshot();
  EXPECT_EQ(snap.running().version(), "1.0.0");
  EXPECT_EQ(snap.testing().version(), "2.0.0");
  EXPECT_TRUE(snap.testing().up());
  EXPECT_NE(snap.testing().port(), snap.running().port());
  EXPECT_EQ(launcher_.children[1]->spec.extra_env.at("YOKE_ROLE"), "testing");
  EXPECT_EQ(launcher_.children[1]->spec.extra_env.at("PORT"),
            std::to_string(snap.testing().port()));
}

// A crashing running instance is restarted after 500, 1000, 2000, 2000 ms: never a spin.
TEST_F(SupervisorTest, RestartsCrashedRunningWithBackoff) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  for (Millis delay : {Millis(500), Millis(1000), Millis(2000), Millis(2000)}) {
    int starts = launcher_.starts;
    launcher_.children.back()->exit = ExitInfo{3, 0};
    Tick();
    Tick(delay - Millis(1));
    EXPECT_EQ(launcher_.starts, starts) << "restarted before " << delay.count() << " ms";
    Tick(Millis(1));
    EXPECT_EQ(launcher_.starts, starts + 1) << "not restarted after " << delay.count() << " ms";
    Tick();  // healthy again
  }
  EXPECT_EQ(supervisor_->Snapshot().supervisor().running_crashes(), 4u);
}

// A running instance that stops answering its periodic health check is restarted like a
// crash once failure_threshold checks in a row have failed; a single failure is not enough.
TEST_F(SupervisorTest, RunningThatStopsAnsweringIsRestartedLikeACrash) {
  config_.mutable_health()->set_check_interval_ms(1000);
  config_.mutable_health()->set_failure_threshold(3);
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  ASSERT_TRUE(supervisor_->Snapshot().running().up());
  probe_.healthy = false;
  Tick(Millis(1000));  // one failure
  probe_.healthy = true;
  Tick(Millis(1000));  // answers again: the count starts over
  probe_.healthy = false;
  Tick(Millis(999));  // not due yet
  Tick(Millis(1));
  Tick(Millis(1000));  // two in a row
  EXPECT_EQ(launcher_.starts, 1);
  EXPECT_TRUE(launcher_.children[0]->signals.empty());
  EXPECT_TRUE(supervisor_->Snapshot().running().up());
  Tick(Millis(1000));  // three in a row: a crash
  EXPECT_EQ(launcher_.children[0]->signals, std::vector<int>{SIGTERM});
  auto snap = supervisor_->Snapshot();
  EXPECT_FALSE(snap.running().up());
  EXPECT_EQ(snap.supervisor().running_crashes(), 1u);
  EXPECT_EQ(snap.supervisor().health_check_failures(), 4u);
  probe_.healthy = true;
  Tick(Millis(499));
  EXPECT_EQ(launcher_.starts, 1);  // the crash backoff applies
  Tick(Millis(1));
  EXPECT_EQ(launcher_.starts, 2);
  Tick();
  EXPECT_TRUE(supervisor_->Snapshot().running().up());
  InstanceRecord record;
  ASSERT_TRUE(ReadTextRecord(
      *PosixEnv(), dir_.path() / "versions/1.0.0/instances/0001-running/instance.txtpb", &record));
  EXPECT_NE(record.error().find("stopped answering its health check: 3 failed in a row"),
            std::string::npos)
      << record.error();
}

// With check_interval_ms 0 an instance that is up is never checked again.
TEST_F(SupervisorTest, PeriodicChecksCanBeTurnedOff) {
  config_.mutable_health()->set_check_interval_ms(0);
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  probe_.healthy = false;
  for (int i = 0; i < 10; ++i) Tick(Millis(10000));
  EXPECT_EQ(launcher_.starts, 1);
  EXPECT_TRUE(supervisor_->Snapshot().running().up());
}

// A start that cannot exec is recorded in the instance folder and retried after backoff.
TEST_F(SupervisorTest, RecordsFailedStartAndRetries) {
  launcher_.fail_starts = {1};
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  InstanceRecord record;
  ASSERT_TRUE(ReadTextRecord(
      *PosixEnv(), dir_.path() / "versions/1.0.0/instances/0001-running/instance.txtpb", &record));
  EXPECT_NE(record.error().find("cannot be executed: fake exec failure"), std::string::npos);
  EXPECT_NE(testing::ReadAll(dir_.path() / "versions/1.0.0/instances/0001-running/stderr")
                .find("yoke: cannot be executed"),
            std::string::npos);
  Tick(Millis(500));
  EXPECT_EQ(launcher_.starts, 2);
  Tick();
  EXPECT_TRUE(supervisor_->Snapshot().running().up());
}

// A candidate that never becomes healthy is stopped, rejected with a decision, and archived.
TEST_F(SupervisorTest, RejectsCandidateThatNeverBecomesHealthy) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  probe_.healthy = false;
  DropAndSettle("hello-2.0.0");
  Tick(Millis(2999));
  EXPECT_EQ(supervisor_->Snapshot().testing().version(), "2.0.0");
  Tick(Millis(1));
  EXPECT_EQ(supervisor_->Snapshot().testing().version(), "");
  EXPECT_EQ(launcher_.children[1]->signals, std::vector<int>{SIGTERM});
  Tick();
  EXPECT_TRUE(fs::exists(dir_.path() / "archive" / "hello-2.0.0.zip"));
  EXPECT_FALSE(fs::exists(dir_.path() / "versions" / "2.0.0"));
  auto decisions = Decisions();
  ASSERT_EQ(decisions.size(), 1u);
  Decision decision;
  ASSERT_TRUE(ReadTextRecord(*PosixEnv(), decisions[0], &decision));
  EXPECT_EQ(decision.verdict(), Verdict::REJECT);
  EXPECT_NE(decision.reason().find("not healthy within 3000 ms"), std::string::npos);
}

// A newer candidate supersedes the one under test; a stubborn child gets SIGKILL after grace.
TEST_F(SupervisorTest, SupersedesCandidateAndKillsAfterGrace) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  DropAndSettle("hello-2.0.0");
  Tick();
  launcher_.children[1]->exit_on_sigterm = false;
  DropAndSettle("hello-3.0.0");
  EXPECT_EQ(supervisor_->Snapshot().testing().version(), "3.0.0");
  Tick(Millis(4000));
  EXPECT_EQ(launcher_.children[1]->signals, std::vector<int>{SIGTERM});
  Tick(Millis(1000));
  EXPECT_EQ(launcher_.children[1]->signals, (std::vector<int>{SIGTERM, SIGKILL}));
  Tick();
  EXPECT_TRUE(fs::exists(dir_.path() / "archive" / "hello-2.0.0.zip"));
  auto decisions = Decisions();
  ASSERT_EQ(decisions.size(), 1u);
  Decision decision;
  ASSERT_TRUE(ReadTextRecord(*PosixEnv(), decisions[0], &decision));
  EXPECT_EQ(decision.verdict(), Verdict::SUPERSEDE);
}

// A promotion by hand whose new running instance cannot start leaves the old running
// serving, with a decision saying why; a second one then completes and archives the old.
TEST_F(SupervisorTest, FailedPromotionStaysOnTheOldRunning) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  DropAndSettle("hello-2.0.0");
  Tick();
  launcher_.fail_starts = {launcher_.starts + 1};  // the promoted version's first start fails
  auto done = supervisor_->RequestVerdict(ManualAction::kPromote, "by hand", "ada");
  Tick();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  // A hand verdict's answer names the decision it recorded.
  const std::string promoting = *done.get();
  EXPECT_TRUE(promoting.starts_with("promoting 2.0.0\ndecision ")) << promoting;
  EXPECT_TRUE(promoting.ends_with("-1.0.0-to-2.0.0")) << promoting;
  Tick();
  auto snap = supervisor_->Snapshot();
  EXPECT_EQ(snap.running().version(), "1.0.0");
  EXPECT_TRUE(snap.running().up());
  EXPECT_EQ(snap.judge().promoting(), "");
  std::vector<Decision> decisions;
  for (const auto& path : Decisions()) {
    Decision d;
    ASSERT_TRUE(ReadTextRecord(*PosixEnv(), path, &d));
    decisions.push_back(d);
  }
  ASSERT_EQ(decisions.size(), 2u);
  std::sort(decisions.begin(), decisions.end(),
            [](const Decision& a, const Decision& b) { return a.verdict() < b.verdict(); });
  EXPECT_EQ(decisions[0].verdict(), Verdict::PROMOTE);
  EXPECT_EQ(decisions[0].author(), "ada");
  EXPECT_EQ(decisions[1].verdict(), Verdict::REJECT);
  EXPECT_NE(decisions[1].reason().find("promotion failed"), std::string::npos);
  Tick();
  EXPECT_TRUE(fs::exists(dir_.path() / "archive" / "hello-2.0.0.zip"));

  // Nothing is under test now: a manual verdict says so.
  auto none = supervisor_->RequestVerdict(ManualAction::kReject, "again", "ada");
  Tick();
  auto answer = none.get();
  ASSERT_FALSE(answer);
  EXPECT_NE(answer.error().message().find("no candidate"), std::string::npos);
}

// A rollback's version comes from the admin API: one that could leave the base folder is
// refused before it becomes a path, and nothing is recorded.
TEST_F(SupervisorTest, RollbackRefusesAVersionThatIsNotOne) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  for (const char* bad : {"../../etc", "1.0.0/../../x", "/tmp/x", ".hidden", "a b"}) {
    auto done = supervisor_->RequestVerdict(ManualAction::kRollback, "why", "ada", bad);
    Tick();
    auto answer = done.get();
    ASSERT_FALSE(answer) << bad;
    EXPECT_NE(answer.error().message().find("not a version"), std::string::npos) << bad;
  }
  EXPECT_TRUE(Decisions().empty());
  EXPECT_EQ(supervisor_->Snapshot().running().version(), "1.0.0");
}

// A promotion that works: fresh running instance, the old one drained and its version archived.
TEST_F(SupervisorTest, PromotionReplacesRunningAndArchivesTheOldVersion) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  DropAndSettle("hello-2.0.0");
  Tick();
  auto done = supervisor_->RequestVerdict(ManualAction::kPromote, "by hand", "ada");
  Tick();  // verdict: testing stops, the new running instance starts
  Tick();  // it is healthy: switch, and the old running drains (no traffic: at once)
  Tick();  // the old running is told to stop and exits
  auto snap = supervisor_->Snapshot();
  EXPECT_EQ(snap.running().version(), "2.0.0");
  EXPECT_TRUE(snap.running().up());
  EXPECT_EQ(snap.testing().version(), "");
  Tick();
  EXPECT_TRUE(fs::exists(dir_.path() / "archive" / "hello-1.0.0.zip"));
  EXPECT_TRUE(fs::is_directory(dir_.path() / "versions/2.0.0/instances/0002-running"));
}

// The proxy as the supervisor sees it: remembers the last snapshot published.
class FakeTraffic : public TrafficSwitch {
 public:
  void Publish(UpstreamSnapshot snapshot) override { last = std::move(snapshot); }
  uint64_t InFlight(const Upstream&) const override { return 0; }
  uint64_t Served(const Upstream&) const override { return 0; }
  UpstreamSnapshot last;
};

// Meta's policy for the service applies when a window opens: its judge fields replace the
// config's (a part that fails the config's checks is ignored), and its mirror settings reach
// the proxy with the upstreams; without an override the proxy's own policy is back.
TEST_F(SupervisorTest, AppliesMetasPolicyOverrideWhenAWindowOpens) {
  FakeTraffic traffic;
  std::optional<ServicePolicy> policy = ServicePolicy();
  policy->mutable_judge()->set_min_window_s(7);
  policy->mutable_mirror()->set_enabled(false);
  SupervisorDeps deps{&clock_, &launcher_, &probe_, [](uint16_t) { return true; }, "host1"};
  deps.traffic = &traffic;
  deps.policy_override = [&] { return policy; };
  supervisor_ =
      std::make_unique<Supervisor>(config_, BaseFolder(dir_.path(), "hello", PosixEnv()), deps);
  ASSERT_TRUE(supervisor_->Start());
  DropAndSettle("hello-1.0.0");
  Tick();
  DropAndSettle("hello-2.0.0");
  Tick();
  Tick();
  ASSERT_TRUE(traffic.last.testing) << "2.0.0 is not up";
  EXPECT_EQ(supervisor_->Snapshot().judge().min_window_s(), 7);
  ASSERT_TRUE(traffic.last.mirror);
  EXPECT_FALSE(traffic.last.mirror->enabled);

  policy->mutable_judge()->set_confidence(5);  // not a probability: ignored
  policy->clear_mirror();
  DropAndSettle("hello-3.0.0");  // supersedes 2.0.0; a new window opens for 3.0.0
  Tick();
  Tick();
  ASSERT_TRUE(traffic.last.testing && traffic.last.testing->version == "3.0.0");
  EXPECT_EQ(supervisor_->Snapshot().judge().min_window_s(), config_.judge().min_window_s());
  EXPECT_FALSE(traffic.last.mirror);
}

// Through the loop: a pin rejects the candidate, a later drop is held, and unpin tests it.
TEST_F(SupervisorTest, PinHoldsNewVersionsAndUnpinTestsTheHeldOne) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  DropAndSettle("hello-2.0.0");
  Tick();
  auto pinned = supervisor_->RequestVerdict(ManualAction::kPin, "incident", "ada", "1.0.0");
  Tick();
  ASSERT_EQ(pinned.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const std::string pin_answer = *pinned.get();  // names the PIN, not the candidate's rejection
  EXPECT_TRUE(pin_answer.starts_with("pinned 1.0.0\ndecision ")) << pin_answer;
  EXPECT_TRUE(pin_answer.ends_with("-1.0.0-to-1.0.0")) << pin_answer;
  EXPECT_EQ(supervisor_->Snapshot().testing().version(), "");
  DropAndSettle("hello-3.0.0");
  auto snap = supervisor_->Snapshot();
  EXPECT_EQ(snap.pinned(), "1.0.0");
  EXPECT_EQ(snap.held(), "3.0.0");
  EXPECT_EQ(snap.testing().version(), "");
  const int starts = launcher_.starts;
  auto unpinned = supervisor_->RequestVerdict(ManualAction::kUnpin, "over", "ada");
  Tick();
  EXPECT_TRUE(unpinned.get()->starts_with("unpinned; testing 3.0.0\ndecision "));
  Tick();
  snap = supervisor_->Snapshot();
  EXPECT_EQ(snap.pinned(), "");
  EXPECT_EQ(snap.testing().version(), "3.0.0");
  EXPECT_TRUE(snap.testing().up());
  EXPECT_EQ(launcher_.starts, starts + 1);
}

// After a restart the journal brings back both roles, and their versions start again.
TEST_F(SupervisorTest, ResumesRolesFromTheJournal) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  DropAndSettle("hello-2.0.0");
  Tick();
  supervisor_.reset();  // as if killed: no Shutdown
  launcher_.children.clear();
  StartSupervisor();
  Tick();
  Tick();
  auto snap = supervisor_->Snapshot();
  EXPECT_EQ(snap.running().version(), "1.0.0");
  EXPECT_EQ(snap.testing().version(), "2.0.0");
  EXPECT_EQ(snap.running().instance(), 2u);
  EXPECT_EQ(snap.testing().instance(), 2u);
}

// After an in-place upgrade (the same process, a new Supervisor) running and testing are adopted
// as they are: no new start, the same instances, both up; one that exited meanwhile is started
// again.
TEST_F(SupervisorTest, AdoptsItsOwnInstancesAfterAnUpgrade) {
  StartSupervisor();
  DropAndSettle("hello-1.0.0");
  Tick();
  DropAndSettle("hello-2.0.0");
  Tick();
  ASSERT_EQ(launcher_.starts, 2);
  ASSERT_TRUE(supervisor_->PrepareUpgrade());
  supervisor_.reset();  // the old image is gone; its children are not
  StartSupervisor();
  Tick();
  auto snap = supervisor_->Snapshot();
  EXPECT_EQ(launcher_.starts, 2);
  EXPECT_EQ(snap.running().version(), "1.0.0");
  EXPECT_EQ(snap.testing().version(), "2.0.0");
  EXPECT_TRUE(snap.running().up());
  EXPECT_TRUE(snap.testing().up());
  EXPECT_EQ(snap.running().instance(), 1u);
  EXPECT_EQ(snap.testing().instance(), 1u);
  EXPECT_EQ(snap.judge().verdict(), "wait");  // the window is open again
  EXPECT_TRUE(launcher_.children[0]->signals.empty());
  EXPECT_TRUE(launcher_.children[1]->signals.empty());

  // Testing exits across the next upgrade: it is not adopted but started again.
  ASSERT_TRUE(supervisor_->PrepareUpgrade());
  supervisor_.reset();
  launcher_.children[1]->exit = ExitInfo{1, 0};
  StartSupervisor();
  Tick();
  Tick();
  snap = supervisor_->Snapshot();
  EXPECT_EQ(launcher_.starts, 3);
  EXPECT_EQ(snap.running().instance(), 1u);
  EXPECT_EQ(snap.testing().instance(), 2u);
}

}  // namespace
}  // namespace yoke
