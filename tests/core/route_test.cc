#include "core/route.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

// Numeric, UUID and long hex segments fold to :id; the query is dropped.
TEST(RouteTest, FoldsIds) {
  RouteFolder folder;
  EXPECT_EQ(folder.Fold("/users/42/orders?page=2"), "/users/:id/orders");
  EXPECT_EQ(folder.Fold("/o/123e4567-e89b-12d3-a456-426614174000"), "/o/:id");
  EXPECT_EQ(folder.Fold("/blob/deadbeefdeadbeef00"), "/blob/:id");
  EXPECT_EQ(folder.Fold("/blob/cafe"), "/blob/cafe");  // short hex is a word
  EXPECT_EQ(folder.Fold("/"), "/");
  EXPECT_EQ(folder.Fold(""), "/");
  EXPECT_EQ(folder.Fold("//a//b/"), "/a/b");
}

// Configured patterns win over folding; '*' takes the rest of the path.
TEST(RouteTest, MatchesConfiguredPatterns) {
  RouteFolder folder({"/users/:name/profile", "/static/*"});
  EXPECT_EQ(folder.Fold("/users/ada/profile"), "/users/:name/profile");
  EXPECT_EQ(folder.Fold("/static/css/site.css"), "/static/*");
  EXPECT_EQ(folder.Fold("/users/ada"), "/users/ada");
}

}  // namespace
}  // namespace yoke
