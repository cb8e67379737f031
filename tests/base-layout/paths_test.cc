#include "base-layout/paths.h"

#include <gtest/gtest.h>

namespace yoke::base_paths {
namespace {

// Every name the base builds parses back to what built it, and nothing else does.
TEST(BasePathsTest, NamesParseBack) {
  EXPECT_EQ(InstanceDirName(7, "testing"), "0007-testing");
  EXPECT_EQ(InstanceNumber(InstanceDirName(12345, "running")), 12345u);
  EXPECT_EQ(InstanceNumber("running"), 0u);
  EXPECT_EQ(InstanceNumber("0001"), 0u);
  EXPECT_EQ(InstanceNumber("9999999999-running"), 0u);  // too long to be ours

  EXPECT_EQ(ArchiveFileName("hello", "1.0.0"), "hello-1.0.0.zip");
  EXPECT_EQ(ArchiveFileName("hello", "1.0.0", 3), "hello-1.0.0.3.zip");
  EXPECT_EQ(ArchiveNumber("hello", "1.0.0", "hello-1.0.0.zip"), 1);
  EXPECT_EQ(ArchiveNumber("hello", "1.0.0", "hello-1.0.0.3.zip"), 3);
  EXPECT_FALSE(ArchiveNumber("hello", "1.0", "hello-1.0.0.zip"));  // 1.0.0, not 1.0
  EXPECT_FALSE(ArchiveNumber("hello", "1.0.0", "hello-1.0.0.x.zip"));
  EXPECT_FALSE(ArchiveNumber("hello", "1.0.0", "hello-1.0.0.tar"));

  const std::string name = DecisionFileName("20261129T101010Z", "", "2.0.0", 2);
  EXPECT_EQ(name, "20261129T101010Z-none-to-2.0.0.2.txtpb");
  EXPECT_EQ(DecisionIdOf(name), "20261129T101010Z-none-to-2.0.0.2");
  EXPECT_FALSE(DecisionIdOf(name + ".tmp"));
  EXPECT_FALSE(DecisionIdOf(".hidden.txtpb"));
  EXPECT_FALSE(DecisionIdOf("a..b.txtpb"));
  // Versions of 128 characters still give names far under the 255-byte limit.
  EXPECT_LT(
      DecisionFileName("20261129T101010Z", std::string(128, 'a'), std::string(128, 'b')).size(),
      200u);
}

// Every file of the base has one place.
TEST(BasePathsTest, FilesHaveOnePlace) {
  const Path root = "/srv/hello";
  EXPECT_EQ(Journal(root), "/srv/hello/state/journal.txtpb");
  EXPECT_EQ(Lock(root), "/srv/hello/state/yoke.lock");
  EXPECT_EQ(AdminToken(root), "/srv/hello/state/admin.token");
  EXPECT_EQ(FetchDir(root), "/srv/hello/state/fetch");
  EXPECT_EQ(MetaDir(root), "/srv/hello/meta");
  EXPECT_EQ(InstanceRecord(InstancesDir(root, "1.0") / "0001-running"),
            "/srv/hello/versions/1.0/instances/0001-running/instance.txtpb");
  EXPECT_EQ(RoleLinkStaging(root, "running"), "/srv/hello/.running.new");
}

}  // namespace
}  // namespace yoke::base_paths
