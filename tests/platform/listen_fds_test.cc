// sd_listen_fds semantics as yoke reads them: only for the pid LISTEN_PID names, fds from 3,
// names optional (position decides then), bad values refused.
#include "platform/listen_fds.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

// Unset, or meant for another process (a variable inherited by accident): nothing is taken.
TEST(ListenFdsTest, NothingWhenUnsetOrForAnotherPid) {
  auto none = ParseListenFds(nullptr, nullptr, nullptr, 100);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto other = ParseListenFds("99", "1", nullptr, 100);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
}

// Unnamed sockets are the proxy's, then the admin API's, from fd 3 on.
TEST(ListenFdsTest, PositionNamesUnnamedSockets) {
  auto fds = ParseListenFds("100", "2", nullptr, 100);
  ASSERT_TRUE(fds);
  EXPECT_EQ(*fds, (std::vector<ListenFd>{{"proxy", 3}, {"admin", 4}}));
  // systemd's "unknown" is no name either.
  auto unknown = ParseListenFds("100", "1", "unknown", 100);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(*unknown, (std::vector<ListenFd>{{"proxy", 3}}));
}

// Names from FileDescriptorName= win over position.
TEST(ListenFdsTest, NamesFromListenFdNames) {
  auto fds = ParseListenFds("100", "2", "admin:proxy", 100);
  ASSERT_TRUE(fds);
  EXPECT_EQ(*fds, (std::vector<ListenFd>{{"admin", 3}, {"proxy", 4}}));
}

// Values that do not parse, or disagree, are errors (and yoke then binds its own sockets).
TEST(ListenFdsTest, RefusesBadValues) {
  EXPECT_FALSE(ParseListenFds("abc", "1", nullptr, 100));
  EXPECT_FALSE(ParseListenFds("100", "x", nullptr, 100));
  EXPECT_FALSE(ParseListenFds("100", "-1", nullptr, 100));
  EXPECT_FALSE(ParseListenFds("100", "2", "proxy", 100));
  EXPECT_FALSE(ParseListenFds(nullptr, "1", nullptr, 100));
}

// The environment handed to the next image names the sockets for the same pid, and only once.
TEST(ListenFdsTest, EnvironmentHandingOnReplacesEarlierVariables) {
  ::setenv("LISTEN_FDS", "7", 1);
  auto env = EnvironmentHandingOn({"proxy", "admin"}, 42);
  ::unsetenv("LISTEN_FDS");
  int fds = 0;
  for (const std::string& e : env) {
    if (e.starts_with("LISTEN_FDS=")) {
      ++fds;
      EXPECT_EQ(e, "LISTEN_FDS=2");
    }
  }
  EXPECT_EQ(fds, 1);
  EXPECT_NE(std::find(env.begin(), env.end(), "LISTEN_PID=42"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "LISTEN_FDNAMES=proxy:admin"), env.end());
}

}  // namespace
}  // namespace yoke
