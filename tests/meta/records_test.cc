// Meta's records: reading with path and line on errors, binary .pb twins, validation of what
// links records, and the release side's commits.
#include "meta/records.h"

#include <gtest/gtest.h>

#include "meta/layout.h"
#include "tests/fakes/temp_dir.h"

namespace yoke::meta {
namespace {

const meta::Author kBob{"bob", "bob@example.com"};
const std::string kSha(64, 'a');

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = meta::GitStore::OpenOrInit((dir_.path() / "meta").string(), "main", true);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
  }
  Release MakeRelease(const std::string& version) {
    Release r;
    r.set_version(version);
    r.mutable_artifact()->set_uri("/srv/shop-" + version + ".jar");
    r.mutable_artifact()->set_sha256(kSha);
    r.mutable_artifact()->set_size(10);
    return r;
  }
  testing::TempDir dir_;
  std::unique_ptr<meta::GitStore> store_;
};

// A record that does not parse names its path, line and column.
TEST_F(RecordsTest, BadRecordNamesPathAndLine) {
  ASSERT_TRUE(store_->Commit(
      {{"shop/prod/channels/stable.txtpb", "release: \"1\"\nflags {\n  key: 3 x\n"}}, "bad", kBob));
  auto channel = Read<Channel>(*store_, ChannelPath("shop", "prod", "stable"));
  ASSERT_FALSE(channel);
  EXPECT_TRUE(channel.error().message().starts_with("shop/prod/channels/stable.txtpb:3:"))
      << channel.error().message();
  auto problems = Validate(*store_);
  ASSERT_TRUE(problems);
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_TRUE((*problems)[0].starts_with("shop/prod/channels/stable.txtpb:3:")) << (*problems)[0];
}

// A binary .pb record is read where a .txtpb is expected.
TEST_F(RecordsTest, ReadsBinaryTwin) {
  Release r = MakeRelease("1.0.0");
  ASSERT_TRUE(store_->Commit({{"shop/releases/1.0.0.pb", r.SerializeAsString()}}, "pb", kBob));
  auto read = Read<Release>(*store_, ReleasePath("shop", "1.0.0"));
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->artifact().uri(), "/srv/shop-1.0.0.jar");
}

// Releases are immutable, a channel needs an existing release, and each makes one commit with
// a message naming what changed.
TEST_F(RecordsTest, ReleaseAndChannelCommits) {
  ASSERT_TRUE(AddRelease(*store_, "shop", MakeRelease("1.0.0"), kBob));
  // The same content again is no change; other content is refused.
  EXPECT_TRUE(AddRelease(*store_, "shop", MakeRelease("1.0.0"), kBob));
  Release changed = MakeRelease("1.0.0");
  changed.mutable_artifact()->set_size(11);
  EXPECT_FALSE(AddRelease(*store_, "shop", changed, kBob));
  EXPECT_FALSE(AddRelease(*store_, "../x", MakeRelease("1.0.1"), kBob));

  EXPECT_FALSE(SetChannel(*store_, "shop", "prod", "stable", "9.9.9", std::nullopt, kBob));
  ASSERT_TRUE(SetChannel(*store_, "shop", "prod", "stable", "1.0.0",
                         std::map<std::string, std::string>{{"beta", "on"}}, kBob));
  ASSERT_TRUE(AddRelease(*store_, "shop", MakeRelease("1.1.0"), kBob));
  ASSERT_TRUE(SetChannel(*store_, "shop", "prod", "stable", "1.1.0", std::nullopt, kBob));
  auto channel = Read<Channel>(*store_, ChannelPath("shop", "prod", "stable"));
  ASSERT_TRUE(channel && *channel);
  EXPECT_EQ((*channel)->release(), "1.1.0");
  EXPECT_EQ((*channel)->flags().at("beta"), "on");  // kept
  auto log = *store_->Log(10);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].message, "channel shop/prod/stable: 1.1.0 (was 1.0.0)");
  EXPECT_TRUE(Validate(*store_)->empty());
}

// Validation finds what links records wrongly, not only what does not parse.
TEST_F(RecordsTest, ValidateChecksLinks) {
  Release wrong = MakeRelease("2.0.0");
  wrong.mutable_artifact()->set_sha256("abc");
  ASSERT_TRUE(
      store_->Commit({{"shop/releases/1.0.0.txtpb",
                       "version: \"2.0.0\" artifact { uri: \"x\" sha256: \"abc\" size: 1 }"},
                      {"shop/prod/channels/stable.txtpb", "release: \"3.0.0\""},
                      {"README.md", "not a record"}},
                     "wrong", kBob));
  auto problems = Validate(*store_);
  ASSERT_TRUE(problems);
  std::string all;
  for (const auto& p : *problems) all += p + "\n";
  EXPECT_NE(all.find("does not match the file name"), std::string::npos) << all;
  EXPECT_NE(all.find("sha256 must be 64 hex digits"), std::string::npos) << all;
  EXPECT_NE(all.find("release \"3.0.0\" has no record"), std::string::npos) << all;
}

// Decisions are read in time order, and the log table has one line per decision.
TEST_F(RecordsTest, DecisionsInTimeOrder) {
  Decision late, early;
  late.set_time("2026-11-22T10:00:00Z");
  late.set_to_version("2.0.0");
  late.set_verdict(Verdict::PROMOTE);
  early.set_time("2026-11-22T09:00:00Z");
  early.set_to_version("1.5.0");
  early.set_verdict(Verdict::REJECT);
  const std::string dir = DecisionsDir("shop", "prod", "h1", "shop");
  ASSERT_TRUE(store_->Commit({{dir + "/b.txtpb", late.DebugString()},
                              {dir + "/a.txtpb", early.DebugString()},
                              {dir + "/c.txtpb", "verdict: NOPE"}},
                             "d", kBob));
  std::vector<std::string> bad;
  auto decisions = ReadDecisions(*store_, "", &bad);
  ASSERT_TRUE(decisions);
  ASSERT_EQ(decisions->size(), 2u);
  EXPECT_EQ((*decisions)[0].decision.to_version(), "1.5.0");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_TRUE(bad[0].starts_with(dir + "/c.txtpb:1:")) << bad[0];
  std::string table = FormatDecisionTable(*decisions);
  EXPECT_NE(table.find("reject"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3);
}

}  // namespace
}  // namespace yoke::meta
