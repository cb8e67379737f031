#include "core/artifact_name.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

void ExpectParsed(std::string_view name, std::string_view version, std::string_view ext) {
  auto parsed = ParseArtifactName("hello", name);
  ASSERT_TRUE(parsed) << name;
  EXPECT_EQ(parsed->version, version) << name;
  EXPECT_EQ(parsed->extension, ext) << name;
}

// Names split into version and extension the way operators name builds.
TEST(ArtifactNameTest, SplitsVersionAndExtension) {
  ExpectParsed("hello-1.2.3", "1.2.3", "");
  ExpectParsed("hello-1.2.3.jar", "1.2.3", ".jar");
  ExpectParsed("hello-1.0.0-rc.1", "1.0.0-rc.1", "");
  ExpectParsed("hello-2.0.0-beta.sh", "2.0.0-beta", ".sh");
  ExpectParsed("hello-1.0.0.tar.gz", "1.0.0", ".tar.gz");
  ExpectParsed("hello-build-42", "build-42", "");
}

// Other services' files and files still being copied are never artifacts.
TEST(ArtifactNameTest, IgnoresOtherFilesAndCopiesInProgress) {
  for (auto name : {"hello", "hello-", "hellox-1.0.0", "other-1.0.0", ".hello-1.0.0.swp",
                    "hello-1.0.0.part", "hello-1.0.0.tmp", "hello-1.0.0~", "hello-..", "hello-.jar",
                    "app.properties", "yoke.log"}) {
    EXPECT_FALSE(ParseArtifactName("hello", name)) << name;
  }
}

}  // namespace
}  // namespace yoke
