#include "supervisor/daemon/log_tailer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

class LogTailerTest : public ::testing::Test {
 protected:
  LogTailerTest() : tailer_(dir_.path(), "logs/json/*.log", LogFormat()) {
    fs::create_directories(dir_.path() / "logs/json");
  }
  void Append(const std::string& name, const std::string& text) {
    std::ofstream(dir_.path() / "logs/json" / name, std::ios::app) << text;
  }
  void Poll() { tailer_.Poll(counts_, false); }

  testing::TempDir dir_;
  LogTailer tailer_;
  LogCounts counts_;
};

const std::string kError = R"({"level":"ERROR","logger":"db","message":"lost 1"})"
                           "\n";
const std::string kInfo = R"({"level":"INFO","message":"ok"})"
                          "\n";

// Files that appear after start are followed; a partial last line waits for its newline.
TEST_F(LogTailerTest, FollowsNewFilesAndWaitsForPartialLines) {
  Poll();
  Append("app.log", kError + R"({"level":"ERR)");
  Poll();
  EXPECT_EQ(counts_.errors, 1u);
  EXPECT_EQ(counts_.lines, 1u);
  Append("app.log", "OR\"}\n");
  Append("other.log", kInfo);
  Append("ignored.txt", kError);
  Poll();
  EXPECT_EQ(counts_.errors, 2u);
  EXPECT_EQ(counts_.lines, 3u);
}

// Rotation by rename: the old file is read to its end, the new one from its start.
TEST_F(LogTailerTest, FollowsRotationByRename) {
  Append("app.log", kError);
  Poll();
  Append("app.log", kError);  // written just before the rename
  fs::rename(dir_.path() / "logs/json/app.log", dir_.path() / "logs/json/app.log.1");
  Append("app.log", kInfo + kError);
  Poll();
  EXPECT_EQ(counts_.errors, 3u);
  EXPECT_EQ(counts_.lines, 4u);
}

// A file renamed to another name the glob matches is not read again from the top.
TEST_F(LogTailerTest, FollowsRenameToAMatchingName) {
  Append("app.log", kError + kError);
  Poll();
  fs::rename(dir_.path() / "logs/json/app.log", dir_.path() / "logs/json/app-1.log");
  Append("app-1.log", kError);  // the writer had not reopened yet
  Append("app.log", kInfo);
  Poll();
  EXPECT_EQ(counts_.errors, 3u);
  EXPECT_EQ(counts_.lines, 4u);
}

// A line over the limit counts once, and its remaining bytes do not count as another line.
TEST_F(LogTailerTest, CountsAnOverlongLineOnce) {
  Append("app.log", std::string(LogTailer::kMaxLine + 10, 'x'));
  Poll();
  Append("app.log", std::string(3 << 20, 'y') + "\n" + kError);
  Poll();
  EXPECT_EQ(counts_.not_json, 1u);
  EXPECT_EQ(counts_.errors, 1u);
  EXPECT_EQ(counts_.lines, 2u);
}

// Rotation by truncation: reading starts again from the top.
TEST_F(LogTailerTest, FollowsTruncation) {
  Append("app.log", kInfo + kInfo + kInfo);
  Poll();
  fs::resize_file(dir_.path() / "logs/json/app.log", 0);
  Append("app.log", kError);
  Poll();
  EXPECT_EQ(counts_.lines, 4u);
  EXPECT_EQ(counts_.errors, 1u);
}

// Lines that are not JSON, or JSON without a level, are counted and never stop the tailer.
TEST_F(LogTailerTest, CountsBadLines) {
  Append("app.log", "not json\n{\"message\":\"no level\"}\n\n" + kError);
  Poll();
  EXPECT_EQ(counts_.not_json, 1u);
  EXPECT_EQ(counts_.no_level, 1u);
  EXPECT_EQ(counts_.errors, 1u);
  EXPECT_EQ(counts_.error_kinds.at("db: lost #"), 1u);
}

// A FIFO (which would block an open or a read forever without a writer), a symlink (here to
// a file outside the glob) and a folder matching the glob are skipped; only the regular file is
// read, and Poll returns.
TEST_F(LogTailerTest, SkipsFifosSymlinksAndFolders) {
  const fs::path logs = dir_.path() / "logs/json";
  ASSERT_EQ(::mkfifo((logs / "fifo.log").c_str(), 0644), 0);
  testing::WriteAll(dir_.path() / "elsewhere", kError + kError);
  fs::create_symlink(dir_.path() / "elsewhere", logs / "link.log");
  fs::create_symlink("/dev/zero", logs / "zero.log");
  fs::create_directories(logs / "dir.log");
  Append("app.log", kError);
  Poll();
  EXPECT_EQ(counts_.lines, 1u);
  EXPECT_EQ(counts_.errors, 1u);
  EXPECT_EQ(tailer_.open_files(), 1u);
}

// However many files a candidate writes, at most max_files are open at once (the first by
// name); the others wait unread, and are read once a place frees up.
TEST_F(LogTailerTest, OpensAtMostMaxFiles) {
  LogTailer capped(dir_.path(), "logs/json/*.log", LogFormat(), 4);
  auto open_fds = [] {
    size_t n = 0;
    for (auto& e : fs::directory_iterator("/proc/self/fd")) {
      (void)e;
      ++n;
    }
    return n;
  };
  // Written in reverse name order: files are taken in name order, whatever inodes the file
  // system hands out.
  for (int i = 49; i >= 0; --i) Append("f" + std::to_string(100 + i) + ".log", kInfo);
  const size_t before = open_fds();
  LogCounts counts;
  capped.Poll(counts, false);
  EXPECT_EQ(capped.open_files(), 4u);
  EXPECT_EQ(capped.files_over_cap(), 46u);
  EXPECT_EQ(counts.lines, 4u);
  EXPECT_LE(open_fds(), before + 4);
  // Files deleted free their places: the tailer reads them to their end, lets them go and
  // takes the next ones.
  for (int i = 0; i < 4; ++i)
    fs::remove(dir_.path() / "logs/json" / ("f" + std::to_string(100 + i) + ".log"));
  capped.Poll(counts, false);  // the deleted ones are drained and closed
  capped.Poll(counts, false);
  EXPECT_EQ(capped.open_files(), 4u);
  EXPECT_EQ(counts.lines, 8u);
}

}  // namespace
}  // namespace yoke
