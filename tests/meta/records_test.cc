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
    auto* source = r.add_source();
    source->set_repo("git@example.com:shop.git");
    source->set_githash("4f2a9c1e0b7d3a5f6c8e9d0a1b2c3d4e5f607182");
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
                      {"shop/releases/2.0.0.txtpb",
                       std::string("version: \"2.0.0\" artifact { uri: \"x\" sha256: \"") + kSha +
                           "\" size: 1 } source { repo: \"shop.git\" githash: \"4f2a9c1\" }"},
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
  // A release names the full githash of every repo it was built from.
  EXPECT_NE(all.find("shop/releases/1.0.0.txtpb:1:1: no source; a release lists the githash"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("shop/releases/2.0.0.txtpb:1:1: source shop.git: githash \"4f2a9c1\" is not "
                     "40 hex digits"),
            std::string::npos)
      << all;
}

// Decisions are read newest first by the time their ids start with; a record that does not parse
// is listed with its path and line.
TEST_F(RecordsTest, DecisionsNewestFirst) {
  Decision late, early;
  late.set_time("2026-11-22T10:00:00Z");
  late.set_to_version("2.0.0");
  late.set_verdict(Verdict::PROMOTE);
  early.set_time("2026-11-22T09:00:00Z");
  early.set_to_version("1.5.0");
  early.set_verdict(Verdict::REJECT);
  const std::string dir = DecisionsDir("shop", "prod", "h1", "shop");
  const std::string late_id = "20261122T100000Z-1.5.0-to-2.0.0";
  const std::string early_id = "20261122T090000Z-none-to-1.5.0";
  const std::string bad_id = "20261122T080000Z-none-to-1.0.0";
  ASSERT_TRUE(store_->Commit({{dir + "/" + early_id + ".txtpb", early.DebugString()},
                              {dir + "/" + late_id + ".txtpb", late.DebugString()},
                              {dir + "/" + bad_id + ".txtpb", "verdict: NOPE"}},
                             "d", kBob));
  auto decisions = ReadDecisions(*store_, "");
  ASSERT_TRUE(decisions);
  ASSERT_EQ(decisions->entries.size(), 3u);
  EXPECT_EQ(decisions->total, 3u);
  EXPECT_EQ(decisions->entries[0].id, late_id);
  EXPECT_EQ(decisions->entries[0].decision.to_version(), "2.0.0");
  EXPECT_EQ(decisions->entries[1].decision.to_version(), "1.5.0");
  EXPECT_TRUE(decisions->entries[1].problem.empty());
  EXPECT_EQ(decisions->entries[2].id, bad_id);
  EXPECT_TRUE(decisions->entries[2].problem.starts_with(dir + "/" + bad_id + ".txtpb:1:"))
      << decisions->entries[2].problem;

  auto newest = ReadDecisions(*store_, dir, 1);
  ASSERT_TRUE(newest);
  ASSERT_EQ(newest->entries.size(), 1u);
  EXPECT_EQ(newest->entries[0].id, late_id);
  EXPECT_EQ(newest->total, 3u);
}

}  // namespace
}  // namespace yoke::meta
