#include "core/suggest.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

// Swaps, insertions, deletions and substitutions each cost one, without case.
TEST(SuggestTest, EditDistanceCountsEachTypoOnce) {
  EXPECT_EQ(EditDistance("status", "status"), 0u);
  EXPECT_EQ(EditDistance("stauts", "status"), 1u);
  EXPECT_EQ(EditDistance("statu", "status"), 1u);
  EXPECT_EQ(EditDistance("statuss", "status"), 1u);
  EXPECT_EQ(EditDistance("statvs", "status"), 1u);
  EXPECT_EQ(EditDistance("STATUS", "status"), 0u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

// A typo finds its name; a word far from every name finds none; an exact name needs no hint.
TEST(SuggestTest, NearestNameOnlyForNearMisses) {
  const std::vector<std::string> commands = {"run", "status", "versions", "decisions", "wait"};
  EXPECT_EQ(NearestName("stauts", commands).value_or(""), "status");
  EXPECT_EQ(NearestName("version", commands).value_or(""), "versions");
  EXPECT_EQ(NearestName("decis", commands).value_or(""), "decisions");
  EXPECT_EQ(NearestName("wiat", commands).value_or(""), "wait");
  EXPECT_FALSE(NearestName("frobnicate", commands));
  EXPECT_FALSE(NearestName("status", commands));
  EXPECT_FALSE(NearestName("", commands));
  const std::vector<std::string> fields = {"min_pairs", "min_window_s", "max_window_s"};
  EXPECT_EQ(NearestName("min_pair", fields).value_or(""), "min_pairs");
  EXPECT_EQ(NearestName("max_windows_s", fields).value_or(""), "max_window_s");
}

}  // namespace
}  // namespace yoke
