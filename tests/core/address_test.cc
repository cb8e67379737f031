#include "core/address.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

TEST(AddressTest, ParsesHostAndPort) {
  auto v4 = ParseHostPort("0.0.0.0:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 8080);
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
}

TEST(AddressTest, RejectsMalformedAddresses) {
  for (auto text : {"", "8080", ":8080", "host:", "host:65536", "host:80x", "::1:80", "[::1]80"}) {
    EXPECT_FALSE(ParseHostPort(text)) << text;
  }
}

}  // namespace
}  // namespace yoke
