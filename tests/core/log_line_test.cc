#include "core/log_line.h"

#include <gtest/gtest.h>

#include "core/log_counts.h"

namespace yoke {
namespace {

// Level field names and spellings vary between producers; the defaults cover the usual ones.
TEST(LogLineTest, ClassifiesLevelsAcrossSpellings) {
  LogClassifier c;
  EXPECT_EQ(c.Classify(R"({"level":"ERROR","message":"x"})").level, LogLevel::kError);
  EXPECT_EQ(c.Classify(R"({"severity":"critical","msg":"x"})").level, LogLevel::kError);
  EXPECT_EQ(c.Classify(R"({"lvl":"warning"})").level, LogLevel::kWarn);
  EXPECT_EQ(c.Classify(R"({"level":"INFO","message":"an ERROR in the text"})").level,
            LogLevel::kOther);
  EXPECT_EQ(c.Classify(R"({"message":"no level"})").level, LogLevel::kNoLevel);
  EXPECT_EQ(c.Classify(R"({"level":3})").level, LogLevel::kNoLevel);
}

// Lines that are not JSON objects, or that broke off, are counted, never fatal.
TEST(LogLineTest, SurvivesBadLines) {
  LogClassifier c;
  for (auto line : {"plain text", "", "{", R"({"level":"ERROR","message":"cut)", "[1,2]",
                    "\xff\xfe", R"({"level":"ERROR"} trailing)"}) {
    auto level = c.Classify(line).level;
    EXPECT_TRUE(level == LogLevel::kNotJson) << line;
  }
}

// An error's kind is its logger and its message with ids and quoted values folded.
TEST(LogLineTest, FoldsErrorKinds) {
  LogClassifier c;
  auto a = c.Classify(R"({"level":"ERROR","logger":"db","message":"user 42 not found in 'eu-1'"})");
  auto b = c.Classify(R"({"logger":"db","message":"user 7 not found in 'us-2'","level":"error"})");
  EXPECT_EQ(a.kind, "db: user # not found in \"…\"");
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(FoldErrorMessage("order 550e8400-e29b-41d4-a716-446655440000 failed at 0x1f"),
            "order # failed at #");
  EXPECT_EQ(FoldErrorMessage("http2 stream v8 reset"), "http2 stream v8 reset");
  EXPECT_EQ(c.Classify(R"({"level":"ERROR"})").kind, "-: ");
}

// Custom field names and spellings come from the config.
TEST(LogLineTest, UsesConfiguredFields) {
  LogFormat format;
  format.level_fields = {"@l"};
  format.error_values = {"E"};
  format.message_fields = {"@m"};
  LogClassifier c(format);
  auto line = c.Classify(R"({"@l":"E","@m":"boom 3"})");
  EXPECT_EQ(line.level, LogLevel::kError);
  EXPECT_EQ(line.kind, "-: boom #");
}

TEST(LogCountsTest, CountsStartupApartAndBoundsKinds) {
  LogCounts counts;
  counts.Add({LogLevel::kError, "a"}, true);
  counts.Add({LogLevel::kError, "a"}, false);
  counts.Add({LogLevel::kWarn, ""}, false);
  counts.Add({LogLevel::kNotJson, ""}, false);
  EXPECT_EQ(counts.startup_errors, 1u);
  EXPECT_EQ(counts.errors, 1u);
  EXPECT_EQ(counts.warnings, 1u);
  EXPECT_EQ(counts.not_json, 1u);
  EXPECT_EQ(counts.error_kinds.at("a"), 2u);
  for (int i = 0; i < 2000; ++i) counts.Add({LogLevel::kError, std::to_string(i)}, false);
  EXPECT_LE(counts.error_kinds.size(), LogCounts::kMaxKinds + 1);
}

}  // namespace
}  // namespace yoke
