#include "base-layout/admin_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "platform/posix_env.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteAll;

const std::string kRandom(32, '\xab');

// A missing token is made: hex of the random bytes, mode 0600, read back the same next time.
TEST(AdminTokenTest, MakesAMissingTokenPrivate) {
  TempDir dir;
  const fs::path path = dir.path() / "state" / "admin.token";
  auto token = EnsureAdminToken(*PosixEnv(), path, kRandom);
  ASSERT_TRUE(token) << token.error().message();
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(*token, hex);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*EnsureAdminToken(*PosixEnv(), path, std::string(32, '\x01')), *token);
}

// An empty token file (a crash of an older yoke between creating and filling it) no longer stops
// the start: a new token is made. One an operator wrote is kept, trailing newline dropped.
TEST(AdminTokenTest, ReplacesAnEmptyTokenAndKeepsAnOperatorsOne) {
  TempDir dir;
  const fs::path path = dir.path() / "admin.token";
  WriteAll(path, "\n");
  auto made = EnsureAdminToken(*PosixEnv(), path, kRandom);
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_EQ(made->size(), 64u);
  WriteAll(path, "correct horse battery staple\n");
  EXPECT_EQ(*EnsureAdminToken(*PosixEnv(), path, kRandom), "correct horse battery staple");
}

// A token path that cannot be read (a folder there) is an error to look at, not replaced.
TEST(AdminTokenTest, AnUnreadableTokenIsAnError) {
  TempDir dir;
  fs::create_directories(dir.path() / "admin.token");
  EXPECT_FALSE(EnsureAdminToken(*PosixEnv(), dir.path() / "admin.token", kRandom));
  EXPECT_TRUE(fs::is_directory(dir.path() / "admin.token"));
}

}  // namespace
}  // namespace yoke
