#include "core/mirror_policy.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

// Safe methods by default; other methods only on routes that allow them; bodies bounded.
TEST(MirrorPolicyTest, DecidesByMethodRouteAndBody) {
  MirrorPolicy policy;
  policy.allow.push_back({"/search", {"POST"}});
  EXPECT_EQ(CheckMirror(policy, true, "GET", "/x", 0), std::nullopt);
  EXPECT_EQ(CheckMirror(policy, true, "OPTIONS", "/x", 0), std::nullopt);
  EXPECT_EQ(CheckMirror(policy, true, "POST", "/x", 10), MirrorDrop::kMethod);
  EXPECT_EQ(CheckMirror(policy, true, "POST", "/search", 10), std::nullopt);
  EXPECT_EQ(CheckMirror(policy, true, "POST", "/search", 70000), MirrorDrop::kBodyTooLarge);
  EXPECT_EQ(CheckMirror(policy, true, "GET", "/x", std::nullopt), MirrorDrop::kBodyTooLarge);
  EXPECT_EQ(CheckMirror(policy, false, "GET", "/x", 0), MirrorDrop::kNoTesting);
  policy.enabled = false;
  EXPECT_EQ(CheckMirror(policy, true, "GET", "/x", 0), MirrorDrop::kDisabled);
  EXPECT_EQ(MirrorDropName(MirrorDrop::kInFlightLimit), "in_flight_limit");
}

}  // namespace
}  // namespace yoke
