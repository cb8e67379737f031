#include "core/properties.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

// The port key is rewritten in every separator style; all else is kept byte for byte.
TEST(PropertiesTest, RewritesPortKeepingEverythingElse) {
  std::string in =
      "# server settings\nserver.port=8080\nserver.portal=x\n  server.port : 9\r\n"
      "server.port 7\n! server.port=1\nname = demo";
  std::string out = RewritePropertiesPort(in, "server.port", 20001);
  EXPECT_EQ(out,
            "# server settings\nserver.port=20001\nserver.portal=x\n  server.port : 20001\r\n"
            "server.port 20001\n! server.port=1\nname = demo");
}

// A file without the key gets it appended, on a line of its own.
TEST(PropertiesTest, AppendsMissingKey) {
  EXPECT_EQ(RewritePropertiesPort("a=1", "server.port", 5), "a=1\nserver.port=5\n");
  EXPECT_EQ(RewritePropertiesPort("", "p", 5), "p=5\n");
  EXPECT_EQ(RewritePropertiesPort("p\n", "p", 5), "p=5\n");
}

}  // namespace
}  // namespace yoke
