// The base folder under failing and crashing disks: a take-in, an instance, a role switch, the
// journal, a decision and an archive, walked with every mutation in turn failing (a full disk)
// and with a crash at every point (what was never synced is lost). Nothing may be lost:
// the artifact is in the drop or in its version folder, the old version in its folder or its
// archive, every record whole; and a second run on a healthy disk finishes the job.
#include <gtest/gtest.h>

#include "base-layout/base_folder.h"
#include "base-layout/decision_log.h"
#include "base-layout/text_record.h"
#include "platform/posix_env.h"
#include "proto/yoke/records.pb.h"
#include "proto/yoke/state.pb.h"
#include "tests/fakes/fault_env.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::FaultEnv;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

Journal JournalRunning(const std::string& version) {
  Journal journal;
  journal.mutable_running()->set_version(version);
  return journal;
}

class FaultWalkTest : public ::testing::Test {
 protected:
  // A base running 1.0.0 with 2.0.0 dropped in, on a healthy disk.
  void SetUpBase(const fs::path& root) {
    BaseFolder base(root, "hello", PosixEnv());
    ASSERT_TRUE(base.Prepare());
    WriteAll(root / "hello-1.0.0.sh", "v1");
    auto drops = base.ScanDrops();
    ASSERT_EQ(drops.size(), 1u);
    ASSERT_TRUE(base.TakeIn(drops[0], true));
    ASSERT_TRUE(WriteTextRecord(*PosixEnv(), base.JournalPath(), JournalRunning("1.0.0")));
    WriteAll(root / "hello-2.0.0.sh", "v2");
  }

  // What the supervisor does to promote 2.0.0; every failure is logged and passed over, as the
  // loop does.
  static void Promote(Env* env, const fs::path& root) {
    BaseFolder base(root, "hello", env);
    (void)base.Prepare();
    for (const Drop& drop : base.ScanDrops()) (void)base.TakeIn(drop, true);
    auto dir = base.CreateInstanceDir("2.0.0", "running");
    if (dir) {
      InstanceRecord record;
      record.set_version("2.0.0");
      (void)WriteTextRecord(*env, base_paths::InstanceRecord(*dir), record);
      (void)base.PointRole("running", *dir);
    }
    (void)WriteTextRecord(*env, base.JournalPath(), JournalRunning("2.0.0"));
    Decision decision;
    decision.set_from_version("1.0.0");
    decision.set_to_version("2.0.0");
    decision.set_verdict(Verdict::PROMOTE);
    (void)WriteTextRecord(
        *env,
        base.DecisionsDir() / base_paths::DecisionFileName("20261129T000000Z", "1.0.0", "2.0.0"),
        decision);
    (void)base.ArchiveVersion("1.0.0");
    (void)base.EnforceDiskBudget(uint64_t{1} << 40);
  }

  // Nothing lost, every record whole. `where` names the walk step in failures.
  static void ExpectIntact(const fs::path& root, const std::string& where) {
    BaseFolder base(root, "hello", PosixEnv());
    const bool dropped = fs::exists(root / "hello-2.0.0.sh");
    auto taken = base.ArtifactOf("2.0.0");
    EXPECT_NE(dropped, taken.has_value()) << where << ": 2.0.0 must be in one place";
    if (taken) {
      EXPECT_EQ(ReadAll(*taken), "v2") << where;
    }
    if (dropped) {
      EXPECT_EQ(ReadAll(root / "hello-2.0.0.sh"), "v2") << where;
    }
    EXPECT_TRUE(base.ArtifactOf("1.0.0") || base.NewestArchiveOf("1.0.0"))
        << where << ": 1.0.0 is neither a folder nor an archive";
    Journal journal;
    ASSERT_TRUE(ReadTextRecord(*PosixEnv(), base.JournalPath(), &journal)) << where;
    EXPECT_TRUE(journal.running().version() == "1.0.0" || journal.running().version() == "2.0.0")
        << where;
    for (const fs::path& file : ListDecisionFiles(*PosixEnv(), base.DecisionsDir())) {
      Decision decision;
      EXPECT_TRUE(ReadTextRecord(*PosixEnv(), file, &decision)) << where << ": " << file;
    }
    if (auto target = base.RoleTarget("running")) {
      EXPECT_TRUE(fs::exists(base_paths::InstanceArtifactLink(*target))) << where;
    }
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      EXPECT_FALSE(entry.path().string().ends_with(".tmp")) << where << ": " << entry.path();
    }
  }

  // A second run on a healthy disk gets to the end: 2.0.0 taken in and running, 1.0.0 archived.
  static void ExpectRecovers(const fs::path& root, const std::string& where) {
    Promote(PosixEnv(), root);
    BaseFolder base(root, "hello", PosixEnv());
    EXPECT_TRUE(base.ArtifactOf("2.0.0")) << where;
    EXPECT_FALSE(base.ArtifactOf("1.0.0")) << where;
    EXPECT_TRUE(base.NewestArchiveOf("1.0.0")) << where;
    Journal journal;
    ASSERT_TRUE(ReadTextRecord(*PosixEnv(), base.JournalPath(), &journal)) << where;
    EXPECT_EQ(journal.running().version(), "2.0.0") << where;
    EXPECT_TRUE(base.RoleTarget("running")) << where;
  }

  // The mutations a healthy promotion makes.
  int CountMutations() {
    TempDir dir;
    SetUpBase(dir.path());
    FaultEnv env(PosixEnv());
    Promote(&env, dir.path());
    return env.mutations();
  }

  TempDir dir_;
};

// The walk covers every mutation the promotion makes: a healthy run counts them.
TEST_F(FaultWalkTest, AHealthyRunMakesTheMutationsTheWalkCovers) {
  SetUpBase(dir_.path());
  FaultEnv env(PosixEnv());
  Promote(&env, dir_.path());
  EXPECT_GE(env.mutations(), 10);
  EXPECT_EQ(env.failures(), 0);
  ExpectIntact(dir_.path(), "healthy");
  ExpectRecovers(dir_.path(), "healthy");
}

// A disk that fails from the nth mutation on (ENOSPC, EIO) loses nothing, for every n.
TEST_F(FaultWalkTest, AFailingDiskLosesNothingAtAnyStep) {
  const int total = CountMutations();
  ASSERT_GT(total, 0);
  for (int n = 1; n <= total; ++n) {
    TempDir dir;
    SetUpBase(dir.path());
    FaultEnv env(PosixEnv());
    env.FailFrom(n);
    Promote(&env, dir.path());
    EXPECT_GT(env.failures(), 0) << "step " << n;
    const std::string where =
        "failing from mutation " + std::to_string(n) + " of " + std::to_string(total);
    ExpectIntact(dir.path(), where);
    ExpectRecovers(dir.path(), where);
  }
}

// A crash after the nth mutation (what was not synced is lost) loses nothing, for every n.
TEST_F(FaultWalkTest, ACrashLosesNothingAtAnyStep) {
  const int total = CountMutations();
  for (int n = 1; n <= total + 1; ++n) {
    TempDir dir;
    SetUpBase(dir.path());
    FaultEnv env(PosixEnv());
    env.FailFrom(n);  // the process is dead from here on
    Promote(&env, dir.path());
    env.DropUnsynced();
    const std::string where =
        "crash at mutation " + std::to_string(n) + " of " + std::to_string(total);
    ExpectIntact(dir.path(), where);
    ExpectRecovers(dir.path(), where);
  }
}

// Without the folder syncs the walk would catch a loss: a rename left unsynced is undone by a
// crash (this is what the crash walk relies on).
TEST_F(FaultWalkTest, ACrashUndoesAnUnsyncedRename) {
  FaultEnv env(PosixEnv());
  WriteAll(dir_.path() / "a", "x");
  ASSERT_TRUE(env.CreateDirs(dir_.path() / "sub"));
  ASSERT_TRUE(env.Rename(dir_.path() / "a", dir_.path() / "sub" / "a"));
  env.DropUnsynced();
  EXPECT_TRUE(fs::exists(dir_.path() / "a"));
  EXPECT_FALSE(fs::exists(dir_.path() / "sub" / "a"));
  ASSERT_TRUE(env.Rename(dir_.path() / "a", dir_.path() / "sub" / "a"));
  ASSERT_TRUE(env.SyncDir(dir_.path() / "sub"));
  env.DropUnsynced();
  EXPECT_TRUE(fs::exists(dir_.path() / "sub" / "a"));
}

}  // namespace
}  // namespace yoke
