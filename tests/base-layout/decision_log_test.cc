#include "base-layout/decision_log.h"

#include <gtest/gtest.h>

#include "base-layout/text_record.h"
#include "platform/posix_env.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::WriteAll;

class DecisionLogTest : public ::testing::Test {
 protected:
  void Write(const std::string& id, const std::string& to, Verdict verdict) {
    Decision d;
    d.set_from_version("1.0.0");
    d.set_to_version(to);
    d.set_verdict(verdict);
    d.set_reason("because " + to);
    ASSERT_TRUE(WriteTextRecord(*PosixEnv(), dir_.path() / (id + ".txtpb"), d));
  }
  testing::TempDir dir_;
};

// The newest come first, at most `limit`; temp files and hidden files are not decisions.
TEST_F(DecisionLogTest, ListsTheNewestFirst) {
  Write("20260101T000001Z-1.0.0-to-2.0.0", "2.0.0", Verdict::REJECT);
  Write("20260101T000003Z-1.0.0-to-4.0.0", "4.0.0", Verdict::PROMOTE);
  Write("20260101T000002Z-1.0.0-to-3.0.0", "3.0.0", Verdict::SUPERSEDE);
  WriteAll(dir_.path() / "20260101T000009Z-1.0.0-to-9.0.0.txtpb.tmp", "half");
  WriteAll(dir_.path() / ".20260101T000009Z-x.txtpb", "hidden");
  auto list = ReadDecisionFolder(*PosixEnv(), dir_.path(), 2);
  EXPECT_EQ(list.total, 3u);
  ASSERT_EQ(list.entries.size(), 2u);
  EXPECT_EQ(list.entries[0].id, "20260101T000003Z-1.0.0-to-4.0.0");
  EXPECT_EQ(list.entries[0].decision.verdict(), Verdict::PROMOTE);
  EXPECT_EQ(list.entries[1].decision.to_version(), "3.0.0");
  EXPECT_TRUE(list.entries[1].problem.empty());
  EXPECT_EQ(ReadDecisionFolder(*PosixEnv(), dir_.path() / "missing", 10).total, 0u);
}

// A file that does not parse is listed with its error, not skipped and not fatal.
TEST_F(DecisionLogTest, ReportsAnUnreadableDecision) {
  WriteAll(dir_.path() / "20260101T000001Z-bad.txtpb", "verdict: {{{\n");
  auto list = ReadDecisionFolder(*PosixEnv(), dir_.path(), 10);
  ASSERT_EQ(list.entries.size(), 1u);
  EXPECT_NE(list.entries[0].problem.find("20260101T000001Z-bad.txtpb"), std::string::npos);
}

// The text is served for a decision file only: not through a link, nor outside the folder.
TEST_F(DecisionLogTest, ReadsOnlyDecisionFiles) {
  Write("20260101T000001Z-1.0.0-to-2.0.0", "2.0.0", Verdict::REJECT);
  auto text = DecisionText(*PosixEnv(), dir_.path(), "20260101T000001Z-1.0.0-to-2.0.0");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("to_version: \"2.0.0\""), std::string::npos);
  EXPECT_FALSE(DecisionText(*PosixEnv(), dir_.path(), "20260101T000001Z-missing"));
  fs::create_directories(dir_.path() / "sub");
  WriteAll(dir_.path() / "secret.txtpb", "secret");
  EXPECT_FALSE(DecisionText(*PosixEnv(), dir_.path() / "sub", "../secret"));
  fs::create_symlink(dir_.path() / "secret.txtpb", dir_.path() / "sub" / "link.txtpb");
  EXPECT_FALSE(DecisionText(*PosixEnv(), dir_.path() / "sub", "link"));
  EXPECT_TRUE(base_paths::IsDecisionId("20260101T000001Z-1.0.0-to-2.0.0+build.7.2"));
  for (const char* bad : {"", ".", "..", "a/b", "a\\b", ".x", "a..b", "a\nb"}) {
    EXPECT_FALSE(base_paths::IsDecisionId(bad)) << bad;
  }
}

}  // namespace
}  // namespace yoke
