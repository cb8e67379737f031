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

// An error line that names its request path is counted for the path's route, folded like the
// proxy folds pairs; a value that is not a path names no route.
TEST(LogLineTest, ReadsTheRouteOfAnErrorLine) {
  LogFormat format;
  format.route_patterns = {"/users/:name/profile"};
  LogClassifier c(format);
  EXPECT_EQ(c.Classify(R"({"level":"ERROR","path":"/items/42?x=1","message":"boom"})").route,
            "/items/:id");
  EXPECT_EQ(c.Classify(R"({"route":"/users/ada/profile","level":"ERROR","message":"x"})").route,
            "/users/:name/profile");
  EXPECT_EQ(c.Classify(R"({"level":"ERROR","path":"etc/x","message":"x"})").route, "");
  EXPECT_EQ(c.Classify(R"({"level":"ERROR","path":7,"message":"x"})").route, "");
  EXPECT_EQ(c.Classify(R"({"level":"INFO","path":"/items"})").route, "");  // errors only
  LogFormat custom;
  custom.route_fields = {"http.path"};
  LogClassifier d(custom);
  EXPECT_EQ(d.Classify(R"({"level":"ERROR","http.path":"/a","path":"/b"})").route, "/a");
}

TEST(LogCountsTest, CountsErrorsByRouteAfterStartup) {
  LogCounts counts;
  counts.Add({LogLevel::kError, "k", "/a"}, true);  // startup: no route count
  counts.Add({LogLevel::kError, "k", "/a"}, false);
  counts.Add({LogLevel::kError, "k", ""}, false);
  EXPECT_EQ(counts.routed_errors, 1u);
  EXPECT_EQ(counts.route_errors.at("/a"), 1u);
  for (int i = 0; i < 600; ++i)
    counts.Add({LogLevel::kError, "k", "/r" + std::to_string(i)}, false);
  EXPECT_EQ(counts.route_errors.size(), LogCounts::kMaxRoutes + 1);
  EXPECT_EQ(counts.route_errors.at("(other)"), 101u);
}

TEST(LogCountsTest, CountsStartupApartAndBoundsKinds) {
  LogCounts counts;
  counts.Add({LogLevel::kError, "a", ""}, true);
  counts.Add({LogLevel::kError, "a", ""}, false);
  counts.Add({LogLevel::kWarn, "", ""}, false);
  counts.Add({LogLevel::kNotJson, "", ""}, false);
  EXPECT_EQ(counts.startup_errors, 1u);
  EXPECT_EQ(counts.errors, 1u);
  EXPECT_EQ(counts.warnings, 1u);
  EXPECT_EQ(counts.not_json, 1u);
  EXPECT_EQ(counts.error_kinds.at("a"), 2u);
  for (int i = 0; i < 2000; ++i) counts.Add({LogLevel::kError, std::to_string(i), ""}, false);
  EXPECT_LE(counts.error_kinds.size(), LogCounts::kMaxKinds + 1);
}

}  // namespace
}  // namespace yoke
