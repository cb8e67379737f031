#include "core/command.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

using Words = std::vector<std::string>;

// Quotes group words, and placeholders are filled inside words too.
TEST(CommandTest, SplitsAndFillsPlaceholders) {
  auto words = ExpandCommand("java -Dport={port} -jar '{artifact}' \"a b\" x\\ y",
                             {{"port", "20001"}, {"artifact", "/b/v/app 1.jar"}});
  ASSERT_TRUE(words);
  EXPECT_EQ(*words, (Words{"java", "-Dport=20001", "-jar", "/b/v/app 1.jar", "a b", "x y"}));
}

TEST(CommandTest, RejectsUnknownPlaceholderAndBadQuoting) {
  auto unknown = ExpandCommand("{artifact} --p {prot}", {{"artifact", "a"}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("{prot}"), std::string::npos);
  EXPECT_FALSE(ExpandCommand("{artifact", {{"artifact", "a"}}));
  EXPECT_FALSE(ExpandCommand("'{artifact}", {{"artifact", "a"}}));
  EXPECT_FALSE(ExpandCommand("   ", {}));
}

}  // namespace
}  // namespace yoke
