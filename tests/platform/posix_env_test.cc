#include "platform/posix_env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteAll;

// Errors say what kind they are, so callers branch instead of probing first.
TEST(PosixEnvTest, ErrorsCarryTheirKind) {
  TempDir dir;
  Env& env = *PosixEnv();
  auto missing = env.ReadFile(dir.path() / "missing");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(ErrorCode::kNotFound)) << missing.error().message();
  EXPECT_NE(missing.error().message().find("missing"), std::string::npos);
  EXPECT_TRUE(env.Stat(dir.path() / "missing").error().is(ErrorCode::kNotFound));
  EXPECT_TRUE(env.Remove(dir.path() / "missing").error().is(ErrorCode::kNotFound));
  WriteAll(dir.path() / "file", "x");
  // A file where a folder is expected: not found beneath it.
  EXPECT_TRUE(env.ReadFile(dir.path() / "file" / "below").error().is(ErrorCode::kNotFound));
  ASSERT_TRUE(env.Symlink("file", dir.path() / "link"));
  EXPECT_TRUE(env.Symlink("file", dir.path() / "link").error().is(ErrorCode::kConflict));
}

// Worst files where a record belongs: a FIFO nobody writes to, an endless device behind a link,
// a folder. Each is refused at once (the FIFO must not block the loop), never read.
TEST(PosixEnvTest, ReadsOnlyRegularFiles) {
  TempDir dir;
  Env& env = *PosixEnv();
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);
  ASSERT_TRUE(env.Symlink("/dev/zero", dir.path() / "zero"));
  ASSERT_TRUE(env.CreateDirs(dir.path() / "folder"));
  for (const char* name : {"fifo", "zero", "folder"}) {
    auto read = env.ReadFile(dir.path() / name);
    ASSERT_FALSE(read) << name;
    EXPECT_TRUE(read.error().is(ErrorCode::kInvalid)) << name << ": " << read.error().message();
  }
  WriteAll(dir.path() / "record", "ok");
  ASSERT_TRUE(env.Symlink("record", dir.path() / "link"));
  EXPECT_EQ(*env.ReadFile(dir.path() / "link"), "ok");  // a link to a regular file is read
}

// An atomic write replaces the whole file and leaves no temporary behind; a link is reported
// as a link, not followed.
TEST(PosixEnvTest, WritesAtomicallyAndDoesNotFollowLinks) {
  TempDir dir;
  Env& env = *PosixEnv();
  ASSERT_TRUE(env.WriteFileAtomic(dir.path() / "r", "old"));
  ASSERT_TRUE(env.WriteFileAtomic(dir.path() / "r", "new"));
  EXPECT_EQ(*env.ReadFile(dir.path() / "r"), "new");
  EXPECT_EQ(*env.ListDir(dir.path()), std::vector<std::string>{"r"});
  ASSERT_TRUE(env.Symlink("r", dir.path() / "l"));
  EXPECT_EQ(env.Stat(dir.path() / "l")->type, FileInfo::Type::kSymlink);
  EXPECT_EQ(*env.ReadLink(dir.path() / "l"), "r");
  EXPECT_EQ(env.Stat(dir.path() / "r")->size, 3u);
  ASSERT_TRUE(env.CreateDirs(dir.path() / "a" / "b"));
  EXPECT_TRUE(env.Stat(dir.path() / "a" / "b")->is_directory());
  ASSERT_TRUE(env.RemoveAll(dir.path() / "a"));
  EXPECT_FALSE(fs::exists(dir.path() / "a"));
}

// A private file is 0600 from its first byte; the temporary file is hidden, and a link planted at
// its name is replaced, never written through.
TEST(PosixEnvTest, WritesPrivateFilesAndDoesNotWriteThroughAPlantedTemp) {
  TempDir dir;
  Env& env = *PosixEnv();
  EXPECT_EQ(TempPathFor(dir.path() / "token"), dir.path() / ".token.tmp");
  EXPECT_TRUE(IsTempName(".token.tmp"));
  EXPECT_FALSE(IsTempName("token.tmp"));
  WriteAll(dir.path() / "elsewhere", "keep");
  ASSERT_TRUE(env.Symlink(dir.path() / "elsewhere", TempPathFor(dir.path() / "token")));
  ASSERT_TRUE(env.WriteFileAtomic(dir.path() / "token", "secret", FileMode::kPrivate));
  struct stat st;
  ASSERT_EQ(::stat((dir.path() / "token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*env.ReadFile(dir.path() / "elsewhere"), "keep");
  EXPECT_EQ((std::vector<std::string>{"elsewhere", "token"}), *env.ListDir(dir.path()));
}

// Free space is known, and a tree is synced file by file; a missing one is kNotFound.
TEST(PosixEnvTest, KnowsFreeSpaceAndSyncsTrees) {
  TempDir dir;
  Env& env = *PosixEnv();
  auto space = env.FreeSpace(dir.path());
  ASSERT_TRUE(space) << space.error().message();
  EXPECT_GT(space->total, 0u);
  EXPECT_LE(space->available, space->total);
  WriteAll(dir.path() / "a" / "b" / "file", "x");
  ASSERT_TRUE(env.Symlink("file", dir.path() / "a" / "b" / "link"));
  EXPECT_TRUE(env.SyncTree(dir.path() / "a"));
  EXPECT_TRUE(env.SyncTree(dir.path() / "a" / "b" / "file"));
  EXPECT_TRUE(env.SyncTree(dir.path() / "missing").error().is(ErrorCode::kNotFound));
}

// A lock is exclusive while held, says who holds it, and is free once released.
TEST(PosixEnvTest, LocksAreExclusive) {
  TempDir dir;
  Env& env = *PosixEnv();
  auto held = env.LockFile(dir.path() / "lock");
  ASSERT_TRUE(held);
  auto second = env.LockFile(dir.path() / "lock");
  ASSERT_FALSE(second);
  EXPECT_TRUE(second.error().is(ErrorCode::kConflict)) << second.error().message();
  EXPECT_EQ(std::stoi(*env.ReadFile(dir.path() / "lock")), ::getpid());
  held->reset();
  EXPECT_TRUE(env.LockFile(dir.path() / "lock"));
}

}  // namespace
}  // namespace yoke
