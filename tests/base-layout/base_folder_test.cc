#include "base-layout/base_folder.h"

#include <gtest/gtest.h>

#include "base-layout/archive.h"
#include "platform/posix_env.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

class BaseFolderTest : public ::testing::Test {
 protected:
  BaseFolderTest() : base_(dir_.path(), "hello", PosixEnv()) { EXPECT_TRUE(base_.Prepare()); }

  // Drops an artifact and takes it in, as the supervisor does.
  fs::path TakeIn(const std::string& name, const std::string& content) {
    WriteAll(dir_.path() / name, content);
    auto drops = base_.ScanDrops();
    for (const Drop& d : drops) {
      if (d.path.filename() == name) {
        auto taken = base_.TakeIn(d, true);
        EXPECT_TRUE(taken);
        return *taken;
      }
    }
    ADD_FAILURE() << "no drop " << name;
    return {};
  }

  TempDir dir_;
  BaseFolder base_;
};

// Only artifacts of this service are seen; operator files are not.
TEST_F(BaseFolderTest, ScansOnlyArtifactsOfThisService) {
  WriteAll(dir_.path() / "hello-1.0.0.jar", "x");
  WriteAll(dir_.path() / "app.properties", "a=1");
  WriteAll(dir_.path() / "other-1.0.0", "x");
  fs::create_directory(dir_.path() / "hello-2.0.0");  // a folder is not an artifact
  auto drops = base_.ScanDrops();
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].version, "1.0.0");
  EXPECT_EQ(drops[0].extension, ".jar");
  EXPECT_EQ(drops[0].size, 1u);
}

// Taking in moves the file into its version folder and makes it executable.
TEST_F(BaseFolderTest, TakeInMovesArtifactAndMakesItExecutable) {
  fs::path artifact = TakeIn("hello-1.0.0", "#!/bin/sh\n");
  EXPECT_EQ(artifact, dir_.path() / "versions" / "1.0.0" / "hello-1.0.0");
  EXPECT_FALSE(fs::exists(dir_.path() / "hello-1.0.0"));
  EXPECT_NE(fs::status(artifact).permissions() & fs::perms::owner_exec, fs::perms::none);
  EXPECT_EQ(base_.ArtifactOf("1.0.0"), artifact);
}

// Instance numbers count up per version and are never reused, even after a folder is gone.
TEST_F(BaseFolderTest, NumbersInstancesByStartCount) {
  TakeIn("hello-1.0.0", "x");
  auto first = base_.CreateInstanceDir("1.0.0", "running");
  auto second = base_.CreateInstanceDir("1.0.0", "testing");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->filename(), "0001-running");
  EXPECT_EQ(second->filename(), "0002-testing");
  EXPECT_EQ(fs::read_symlink(*first / "artifact"), fs::path("../../hello-1.0.0"));
  EXPECT_EQ(ReadAll(*first / "artifact"), "x");
  EXPECT_TRUE(fs::is_directory(*first / "logs" / "json"));
  auto third = base_.CreateInstanceDir("1.0.0", "running");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->filename(), "0003-running");
}

// Role links are replaced in one rename and resolve to the instance folder.
TEST_F(BaseFolderTest, SwitchesRoleLinks) {
  TakeIn("hello-1.0.0", "x");
  auto a = base_.CreateInstanceDir("1.0.0", "running");
  auto b = base_.CreateInstanceDir("1.0.0", "running");
  ASSERT_TRUE(base_.PointRole("running", *a));
  EXPECT_EQ(fs::read_symlink(dir_.path() / "running"),
            fs::path("versions/1.0.0/instances/0001-running"));
  ASSERT_TRUE(base_.PointRole("running", *b));
  EXPECT_TRUE(fs::equivalent(*base_.RoleTarget("running"), *b));
  ASSERT_TRUE(base_.ClearRole("running"));
  EXPECT_FALSE(base_.RoleTarget("running"));
}

// An archived version is zipped whole (links kept as links) and its folder removed.
TEST_F(BaseFolderTest, ArchivesVersionFolder) {
  TakeIn("hello-1.0.0", "binary");
  auto inst = base_.CreateInstanceDir("1.0.0", "running");
  WriteAll(*inst / "stdout", "out");
  auto zip = base_.ArchiveVersion("1.0.0");
  ASSERT_TRUE(zip) << zip.error().message();
  EXPECT_EQ(zip->filename(), "hello-1.0.0.zip");
  EXPECT_FALSE(fs::exists(base_.VersionDir("1.0.0")));
  auto entries = ListZip(*zip);
  ASSERT_TRUE(entries);
  bool saw_link = false, saw_stdout = false;
  for (const auto& e : *entries) {
    if (e.path == "1.0.0/instances/0001-running/artifact") saw_link = e.is_symlink;
    if (e.path == "1.0.0/instances/0001-running/stdout") saw_stdout = e.size == 3;
  }
  EXPECT_TRUE(saw_link);
  EXPECT_TRUE(saw_stdout);
  // A second archive of the same version does not overwrite the first.
  TakeIn("hello-1.0.0", "again");
  auto again = base_.ArchiveVersion("1.0.0");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->filename(), "hello-1.0.0.2.zip");
  EXPECT_TRUE(fs::exists(*zip));
  EXPECT_TRUE(fs::is_empty(dir_.path() / "state" / "trash"));  // the folder went through it
}

// What a crash can leave is removed at the next start; everything else stays, including a file
// of the operator's that only looks temporary.
TEST_F(BaseFolderTest, RemovesWhatACrashLeft) {
  TakeIn("hello-1.0.0", "binary");
  auto inst = base_.CreateInstanceDir("1.0.0", "running");
  ASSERT_TRUE(inst);
  const std::vector<fs::path> leftovers = {
      dir_.path() / "state" / ".journal.txtpb.tmp",
      dir_.path() / "decisions" / ".20260101T000000Z-none-to-1.0.0.txtpb.tmp",
      dir_.path() / "archive" / ".hello-0.9.0.zip.tmp",
      dir_.path() / "state" / "fetch" / "hello-2.0.0.part",
      dir_.path() / "state" / "restore-0.9.0" / "0.9.0" / "hello-0.9.0",
      dir_.path() / "state" / "trash" / "0.8.0" / "hello-0.8.0",
      *inst / ".instance.txtpb.tmp",
  };
  const std::vector<fs::path> kept = {
      dir_.path() / "decisions" / "20260101T000000Z-none-to-1.0.0.txtpb",
      dir_.path() / "hello-3.0.0",
      dir_.path() / "notes.tmp",
      *inst / "stdout",
  };
  for (const fs::path& path : leftovers) WriteAll(path, "x");
  for (const fs::path& path : kept) WriteAll(path, "x");
  ASSERT_TRUE(base_.Prepare());
  for (const fs::path& path : leftovers) EXPECT_FALSE(fs::exists(path)) << path;
  EXPECT_FALSE(fs::exists(dir_.path() / "state" / "restore-0.9.0"));
  EXPECT_FALSE(fs::exists(dir_.path() / "state" / "trash"));
  for (const fs::path& path : kept) EXPECT_TRUE(fs::exists(path)) << path;
  EXPECT_TRUE(base_.RemoveLeftovers().empty());
}

// A rollback restores the newest archive of a version, with its instance folders and an
// executable artifact, and removes that zip; a version with no archive, or one whose folder
// exists, is refused.
TEST_F(BaseFolderTest, RestoresAVersionFromItsNewestArchive) {
  EXPECT_FALSE(base_.RestoreVersion("1.0.0", true));
  TakeIn("hello-1.0.0", "first");
  ASSERT_TRUE(base_.ArchiveVersion("1.0.0"));
  TakeIn("hello-1.0.0", "second");
  ASSERT_TRUE(base_.CreateInstanceDir("1.0.0", "running"));
  EXPECT_FALSE(base_.RestoreVersion("1.0.0", true));  // the folder is there
  ASSERT_TRUE(base_.ArchiveVersion("1.0.0"));
  auto restored = base_.RestoreVersion("1.0.0", true);
  ASSERT_TRUE(restored) << restored.error().message();
  auto artifact = base_.ArtifactOf("1.0.0");
  ASSERT_TRUE(artifact);
  EXPECT_EQ(ReadAll(*artifact), "second");
  EXPECT_NE(fs::status(*artifact).permissions() & fs::perms::owner_exec, fs::perms::none);
  EXPECT_TRUE(fs::is_directory(base_.VersionDir("1.0.0") / "instances/0001-running"));
  EXPECT_TRUE(fs::exists(dir_.path() / "archive/hello-1.0.0.zip"));
  EXPECT_FALSE(fs::exists(dir_.path() / "archive/hello-1.0.0.2.zip"));
}

// Over budget, the oldest archives go first; versions are never touched.
TEST_F(BaseFolderTest, DiskBudgetDeletesOldestArchivesOnly) {
  TakeIn("hello-1.0.0", std::string(10000, 'a'));
  TakeIn("hello-2.0.0", std::string(10000, 'b'));
  TakeIn("hello-3.0.0", std::string(10000, 'c'));
  ASSERT_TRUE(base_.ArchiveVersion("1.0.0"));
  ASSERT_TRUE(base_.ArchiveVersion("2.0.0"));
  auto archives = base_.ListArchives();
  ASSERT_EQ(archives.size(), 2u);
  // Fits the running version and one archive, not two.
  uint64_t budget = base_.SizeBytes() - archives[0].size;
  auto deleted = base_.EnforceDiskBudget(budget);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].filename(), "hello-1.0.0.zip");
  EXPECT_LE(base_.SizeBytes(), budget);
  // A budget no archive deletion can meet still leaves the version alone.
  base_.EnforceDiskBudget(1);
  EXPECT_TRUE(base_.ListArchives().empty());
  EXPECT_TRUE(base_.ArtifactOf("3.0.0"));
}

// A version's definition from meta goes with its last copy: once the budget deleted its last
// archive and no folder is left. A version with a folder, another archive, or no archive
// deleted (one still on its way in) keeps its definition.
TEST_F(BaseFolderTest, ADefinitionGoesWithItsVersionsLastArchive) {
  for (const char* v : {"1.0.0", "2.0.0", "3.0.0"}) {
    TakeIn(std::string("hello-") + v, std::string(10000, v[0]));
  }
  ASSERT_TRUE(base_.ArchiveVersion("1.0.0"));
  ASSERT_TRUE(base_.ArchiveVersion("2.0.0"));
  for (const char* v : {"1.0.0", "2.0.0", "3.0.0", "4.0.0"}) {
    fs::create_directories(base_paths::DefinitionFile(dir_.path(), v).parent_path());
    WriteAll(base_paths::DefinitionFile(dir_.path(), v), "env { key: \"A\" value: \"1\" }\n");
  }
  // 1.0.0's only archive goes; 2.0.0's zip goes too, but its folder is back (a rollback).
  ASSERT_TRUE(base_.RestoreVersion("2.0.0", true));
  const std::vector<fs::path> deleted = {dir_.path() / "archive/hello-1.0.0.zip",
                                         dir_.path() / "archive/hello-2.0.0.zip"};
  fs::remove(deleted[0]);
  const auto removed = base_.RemoveDefinitionsOf(deleted);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], base_paths::DefinitionFile(dir_.path(), "1.0.0"));
  EXPECT_FALSE(fs::exists(base_paths::DefinitionFile(dir_.path(), "1.0.0")));
  for (const char* v : {"2.0.0", "3.0.0", "4.0.0"}) {
    EXPECT_TRUE(fs::exists(base_paths::DefinitionFile(dir_.path(), v))) << v;
  }
  // 2.0.0 archived twice (taken in again after an archive): deleting one zip leaves the
  // other, and the definition.
  ASSERT_TRUE(base_.ArchiveVersion("2.0.0"));
  ASSERT_TRUE(base_.ArchiveVersion("3.0.0"));
  const fs::path first = dir_.path() / "archive/hello-2.0.0.zip";
  const fs::path second = dir_.path() / "archive/hello-2.0.0.2.zip";
  ASSERT_TRUE(fs::copy_file(first, second));
  fs::remove(first);
  EXPECT_TRUE(base_.RemoveDefinitionsOf({first}).empty());
  EXPECT_TRUE(fs::exists(base_paths::DefinitionFile(dir_.path(), "2.0.0")));
  // Nothing deleted: nothing removed.
  EXPECT_TRUE(base_.RemoveDefinitionsOf({}).empty());
  // What else lies in the folder is not a definition and stays: a bare ".txtpb", another
  // file, a folder with a definition's name.
  const fs::path defs = base_paths::DefinitionsDir(dir_.path());
  WriteAll(defs / ".txtpb", "x");
  WriteAll(defs / "notes", "x");
  fs::create_directories(defs / "3.0.0.tmp.txtpb");
  // The budget deletes every archive: 2.0.0's and 3.0.0's definitions go, 4.0.0 (never taken
  // in) keeps its own.
  const auto all = base_.EnforceDiskBudget(1);
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(base_.RemoveDefinitionsOf(all).size(), 2u);
  EXPECT_FALSE(fs::exists(base_paths::DefinitionFile(dir_.path(), "2.0.0")));
  EXPECT_FALSE(fs::exists(base_paths::DefinitionFile(dir_.path(), "3.0.0")));
  EXPECT_TRUE(fs::exists(base_paths::DefinitionFile(dir_.path(), "4.0.0")));
  EXPECT_TRUE(fs::exists(defs / ".txtpb"));
  EXPECT_TRUE(fs::exists(defs / "notes"));
  EXPECT_TRUE(fs::is_directory(defs / "3.0.0.tmp.txtpb"));
}

}  // namespace
}  // namespace yoke
