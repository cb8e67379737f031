#include "core/ports.h"

#include <gtest/gtest.h>

#include <set>

namespace yoke {
namespace {

// Taken ports are skipped, and the search starts after the last port handed out.
TEST(PortsTest, SkipsTakenPortsAndRotates) {
  std::set<uint16_t> taken = {20000, 20001};
  auto is_free = [&](uint16_t p) { return !taken.contains(p); };
  EXPECT_EQ(PickPort({20000, 20003}, 0, is_free), 20002);
  EXPECT_EQ(PickPort({20000, 20003}, 20002, is_free), 20003);
  EXPECT_EQ(PickPort({20000, 20003}, 20003, is_free), 20002);  // wraps round
}

TEST(PortsTest, ReportsAFullRange) {
  EXPECT_FALSE(PickPort({20000, 20001}, 0, [](uint16_t) { return false; }));
  EXPECT_FALSE(PickPort({20001, 20000}, 0, [](uint16_t) { return true; }));
  EXPECT_EQ(PickPort({65535, 65535}, 0, [](uint16_t) { return true; }), 65535);
}

}  // namespace
}  // namespace yoke
