#include "core/config_settings.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace yoke {
namespace {

Config WithIntake(const std::string& intake) {
  Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString("intake { " + intake + " }", &config));
  return config;
}

constexpr uint64_t kGiB = uint64_t{1} << 30;

// The floor is the smaller of 1 GiB and 5% by default: 5% on a small disk, 1 GiB on a large one.
TEST(ConfigSettingsTest, FreeSpaceFloorIsTheSmallerOfBytesAndPercent) {
  Config defaults;
  EXPECT_EQ(FreeSpaceFloor(defaults, 10 * kGiB), 10 * kGiB / 100 * 5);
  EXPECT_EQ(FreeSpaceFloor(defaults, 1000 * kGiB), kGiB);
  EXPECT_EQ(FreeSpaceFloor(WithIntake("min_free_bytes: 0"), 1000 * kGiB), 50 * kGiB);
  EXPECT_EQ(FreeSpaceFloor(WithIntake("min_free_percent: 0"), 10 * kGiB), kGiB);
  EXPECT_EQ(FreeSpaceFloor(WithIntake("min_free_bytes: 0 min_free_percent: 0"), 10 * kGiB), 0u);
}

}  // namespace
}  // namespace yoke
