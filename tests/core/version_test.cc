#include "core/version.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

// Semver precedence: numeric parts numerically, a pre-release below its release.
TEST(VersionTest, OrdersSemverByPrecedence) {
  EXPECT_LT(CompareVersions("1.2.3", "1.10.0"), 0);
  EXPECT_LT(CompareVersions("1.0.0-rc.1", "1.0.0"), 0);
  EXPECT_LT(CompareVersions("1.0.0-alpha", "1.0.0-alpha.1"), 0);
  EXPECT_LT(CompareVersions("1.0.0-alpha.2", "1.0.0-alpha.10"), 0);
  EXPECT_LT(CompareVersions("1.0.0-2", "1.0.0-alpha"), 0);
  EXPECT_EQ(CompareVersions("1.0.0+build.1", "1.0.0+build.2"), 0);
  EXPECT_GT(CompareVersions("2.0.0", "1.99.99"), 0);
}

// Opaque versions compare in natural order, digit runs as numbers.
TEST(VersionTest, OrdersOpaqueVersionsNaturally) {
  EXPECT_FALSE(IsSemver("build-9"));
  EXPECT_LT(CompareVersions("build-9", "build-10"), 0);
  EXPECT_LT(CompareVersions("2024.1", "2024.1.1"), 0);
  EXPECT_EQ(CompareVersions("r42", "r42"), 0);
}

TEST(VersionTest, RecognisesSemver) {
  EXPECT_TRUE(IsSemver("0.1.0"));
  EXPECT_TRUE(IsSemver("1.0.0-rc.1+sha.abc"));
  EXPECT_FALSE(IsSemver("1.0"));
  EXPECT_FALSE(IsSemver("01.0.0"));
  EXPECT_FALSE(IsSemver("1.0.0-01"));
}

// Version strings become folder names, so path tricks are refused.
TEST(VersionTest, RefusesUnsafeVersionStrings) {
  EXPECT_TRUE(IsValidVersionString("1.0.0-rc.1+b2"));
  EXPECT_FALSE(IsValidVersionString(""));
  EXPECT_FALSE(IsValidVersionString(".."));
  EXPECT_FALSE(IsValidVersionString("1/2"));
  EXPECT_FALSE(IsValidVersionString("-1"));
  EXPECT_FALSE(IsValidVersionString(std::string(129, '1')));
}

// A person promotes a new major version: semver majors differ, or the scheme changes; opaque
// strings have no major and never count as one.
TEST(VersionTest, TellsAMajorVersionChange) {
  EXPECT_TRUE(IsMajorVersionChange("1.4.2", "2.0.0"));
  EXPECT_TRUE(IsMajorVersionChange("2.0.0", "1.9.0"));
  EXPECT_TRUE(IsMajorVersionChange("1.9.9", "2.0.0-rc.1"));
  EXPECT_FALSE(IsMajorVersionChange("1.4.2", "1.5.0"));
  EXPECT_FALSE(IsMajorVersionChange("1.4.2", "1.4.3+build.7"));
  EXPECT_FALSE(IsMajorVersionChange("0.1.0", "0.2.0"));  // 0.x: the major is still 0
  EXPECT_FALSE(IsMajorVersionChange("build-41", "build-42"));
  EXPECT_TRUE(IsMajorVersionChange("build-42", "1.0.0"));
  EXPECT_TRUE(IsMajorVersionChange("1.0.0", "2024.11"));
}

}  // namespace
}  // namespace yoke
