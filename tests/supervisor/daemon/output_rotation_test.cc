#include "supervisor/daemon/output_rotation.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "platform/process.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

uint64_t SizeOf(const fs::path& p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  return ec ? 0 : size;
}

// A real process writing its stdout as fast as it can (the file opened O_APPEND by the
// launcher, as for an instance): rotated past 64 KiB it stays bounded, keeps two copies, and
// after each truncation the process's writes land at offset 0 (no hole of zeros).
TEST(OutputRotationTest, BoundsTheFileOfARealWriter) {
  testing::TempDir dir;
  auto launcher = MakeProcessLauncher({.exec_helper = testing::ExecHelperBinary()});
  LaunchSpec spec;
  spec.argv = {"sh", "-c", "while :; do echo 'a line of output from the instance'; done"};
  spec.working_dir = dir.path();
  spec.stdout_path = dir.path() / "stdout";
  spec.stderr_path = dir.path() / "stderr";
  auto child = launcher->Launch(spec);
  ASSERT_TRUE(child) << child.error().message();
  constexpr uint64_t kMax = 64 << 10;
  int rotations = 0;
  uint64_t largest_seen = 0;
  std::string error;
  // Polled as the supervisor's tick does, until five rotations (bounded by time).
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        largest_seen = std::max(largest_seen, SizeOf(dir.path() / "stdout"));
        auto rotated = RotateOutputFile(dir.path() / "stdout", kMax, 2);
        if (!rotated) {
          error = rotated.error().message();
          return true;
        }
        if (*rotated) ++rotations;
        return rotations >= 5;
      },
      30s));
  ASSERT_EQ(error, "");
  EXPECT_EQ(rotations, 5);
  ASSERT_TRUE(testing::WaitUntil([&] { return SizeOf(dir.path() / "stdout") > 0; }, 5s));
  (*child)->Signal(SIGKILL);
  ASSERT_TRUE(testing::WaitUntil([&] { return (*child)->Gone(); }, 5s));
  std::string current = testing::ReadAll(dir.path() / "stdout");
  ASSERT_FALSE(current.empty());
  EXPECT_NE(current[0], '\0') << "a hole: the writer did not follow the truncation";
  EXPECT_EQ(current.find('\0'), std::string::npos);
  EXPECT_GT(SizeOf(dir.path() / "stdout.1"), kMax);
  EXPECT_GT(SizeOf(dir.path() / "stdout.2"), kMax);
  EXPECT_FALSE(fs::exists(dir.path() / "stdout.3"));
  EXPECT_EQ(testing::ReadAll(dir.path() / "stdout.1").find("a line of output"), 0u);
  std::printf("[ rotation ] 5 rotations at %llu bytes; largest file seen %llu bytes\n",
              static_cast<unsigned long long>(kMax), static_cast<unsigned long long>(largest_seen));
}

// Small files, missing files and anything not a regular file (a FIFO, a symlink) are left
// alone; keep 0 only truncates.
TEST(OutputRotationTest, LeavesAloneWhatIsNotARegularFileOverTheCap) {
  testing::TempDir dir;
  testing::WriteAll(dir.path() / "small", "tiny\n");
  EXPECT_EQ(RotateOutputFile(dir.path() / "small", 100, 3), false);
  EXPECT_EQ(RotateOutputFile(dir.path() / "missing", 100, 3), false);
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0644), 0);
  EXPECT_EQ(RotateOutputFile(dir.path() / "fifo", 0, 3), false);
  testing::WriteAll(dir.path() / "big", std::string(500, 'x'));
  fs::create_symlink(dir.path() / "big", dir.path() / "link");
  EXPECT_EQ(RotateOutputFile(dir.path() / "link", 100, 3), false);
  EXPECT_EQ(SizeOf(dir.path() / "big"), 500u);
  EXPECT_EQ(RotateOutputFile(dir.path() / "big", 100, 0), true);
  EXPECT_EQ(SizeOf(dir.path() / "big"), 0u);
  EXPECT_FALSE(fs::exists(dir.path() / "big.1"));
}

}  // namespace
}  // namespace yoke
