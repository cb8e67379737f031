#include "supervisor/cli/decision_source.h"

#include <gtest/gtest.h>

#include "meta/git_store.h"
#include "meta/layout.h"
#include "platform/posix_env.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::WriteAll;

// The ids of the records that parse, in the listing's order.
std::vector<std::string> Ids(const DecisionListing& listing) {
  std::vector<std::string> ids;
  for (const auto& e : listing.entries) {
    if (e.problem.empty()) ids.push_back(e.id);
  }
  return ids;
}

// The problems of the records that do not parse.
std::vector<std::string> Problems(const DecisionListing& listing) {
  std::vector<std::string> problems;
  for (const auto& e : listing.entries) {
    if (!e.problem.empty()) problems.push_back(e.problem);
  }
  return problems;
}

class DecisionSourceTest : public ::testing::Test {
 protected:
  void Write(const std::string& name, const std::string& text) {
    WriteAll(dir_.path() / name, text);
  }

  testing::TempDir dir_;
};

// Newest first by the time in the name; a bad record is reported with path and line, skipped;
// files that are not records are ignored.
TEST_F(DecisionSourceTest, ListsNewestFirstAndReportsBadRecords) {
  Write("20261122T010000Z-none-to-1.0.0.txtpb", "verdict: PROMOTE\n");
  Write("20261122T030000Z-1.0.0-to-3.0.0.txtpb", "verdict: REJECT\n");
  Write("20261122T020000Z-1.0.0-to-2.0.0.txtpb", "verdict: SUPERSEDE\nbogus: 1\n");
  Write("notes.md", "mine\n");
  FolderDecisionSource source(PosixEnv(), dir_.path());
  DecisionListing all = source.List();
  EXPECT_EQ(Ids(all), (std::vector<std::string>{"20261122T030000Z-1.0.0-to-3.0.0",
                                                "20261122T010000Z-none-to-1.0.0"}));
  ASSERT_EQ(Problems(all).size(), 1u);
  EXPECT_NE(Problems(all)[0].find("20261122T020000Z-1.0.0-to-2.0.0.txtpb:2:"), std::string::npos)
      << Problems(all)[0];
  EXPECT_EQ(all.entries[0].decision.verdict(), Verdict::REJECT);
  EXPECT_EQ(all.total, 3u);

  // A limit counts records, the newest first; a bad one among them is reported.
  DecisionListing two = source.List(2);
  EXPECT_EQ(Ids(two), (std::vector<std::string>{"20261122T030000Z-1.0.0-to-3.0.0"}));
  EXPECT_EQ(Problems(two).size(), 1u);
  DecisionListing one = source.List(1);
  EXPECT_EQ(Ids(one), (std::vector<std::string>{"20261122T030000Z-1.0.0-to-3.0.0"}));
  EXPECT_TRUE(Problems(one).empty());
}

// Two decisions in one second: the later-written one (".2") comes first.
TEST_F(DecisionSourceTest, SameSecondOrdersByWriteTime) {
  Write("20261122T010000Z-1.0.0-to-2.0.0.txtpb", "verdict: SUPERSEDE\n");
  Write("20261122T010000Z-1.0.0-to-2.0.0.2.txtpb", "verdict: REJECT\n");
  fs::last_write_time(dir_.path() / "20261122T010000Z-1.0.0-to-2.0.0.txtpb",
                      fs::last_write_time(dir_.path() / "20261122T010000Z-1.0.0-to-2.0.0.2.txtpb") -
                          std::chrono::seconds(1));
  EXPECT_EQ(Ids(FolderDecisionSource(PosixEnv(), dir_.path()).List()),
            (std::vector<std::string>{"20261122T010000Z-1.0.0-to-2.0.0.2",
                                      "20261122T010000Z-1.0.0-to-2.0.0"}));
}

// `show` takes an exact id, a file name or path, or a unique start of an id.
TEST_F(DecisionSourceTest, FindsByIdPathOrUniquePrefix) {
  Write("20261122T010000Z-none-to-1.0.0.txtpb", "verdict: PROMOTE\n");
  Write("20261122T020000Z-1.0.0-to-2.0.0.txtpb", "verdict: REJECT\n");
  DecisionListing listing = FolderDecisionSource(PosixEnv(), dir_.path()).List();
  auto id = [&](const std::string& wanted) {
    auto m = FindDecision(listing, wanted);
    return m.entry ? m.entry->id : "";
  };
  EXPECT_EQ(id("20261122T010000Z-none-to-1.0.0"), "20261122T010000Z-none-to-1.0.0");
  EXPECT_EQ(id("/srv/x/decisions/20261122T020000Z-1.0.0-to-2.0.0.txtpb"),
            "20261122T020000Z-1.0.0-to-2.0.0");
  EXPECT_EQ(id("20261122T02"), "20261122T020000Z-1.0.0-to-2.0.0");
  auto both = FindDecision(listing, "20261122T0");
  EXPECT_EQ(both.entry, nullptr);
  EXPECT_EQ(both.ambiguous.size(), 2u);
  EXPECT_EQ(id("2025"), "");
  EXPECT_EQ(id(""), "");
}

// Decisions in meta, in a repository made here with GitStore, for host web-3 and service hello.
class MetaDecisionSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = meta::GitStore::OpenOrInit(Repo(), "main", /*bare=*/true);
    ASSERT_TRUE(store) << store.error().message();
    store_ = std::move(*store);
  }
  std::string Repo() const { return (dir_.path() / "meta").string(); }
  std::string Dir(const std::string& host = "web-3") const {
    return meta::DecisionsDir("hello", "prod", host, "hello");
  }
  void Commit(std::vector<meta::FileChange> changes) {
    auto commit = store_->Commit(changes, "test: decisions", {"yoke web-3", "yoke@web-3"});
    ASSERT_TRUE(commit) << commit.error().message();
  }
  // A source over its own handle on the repository, as `yoke decisions --meta` opens it.
  MetaDecisionSource Source(const std::string& host = "web-3") const {
    auto store = meta::GitStore::Open(Repo(), "main");
    EXPECT_TRUE(store) << store.error().message();
    return MetaDecisionSource(std::move(*store), Dir(host));
  }
  testing::TempDir dir_;
  std::unique_ptr<meta::GitStore> store_;
};

// One host's decisions, newest first by the time in the name (a ".2" of the same second first),
// committed over two commits; another host's and files that are not decisions are left out; a
// bad record is listed with its path and line.
TEST_F(MetaDecisionSourceTest, ListsOneHostsDecisionsNewestFirst) {
  const std::string d = Dir();
  ASSERT_NO_FATAL_FAILURE(Commit({
      {d + "/20261122T010000Z-none-to-1.0.0.txtpb", "verdict: PROMOTE\nto_version: \"1.0.0\"\n"},
      {d + "/20261122T020000Z-1.0.0-to-2.0.0.txtpb", "verdict: SUPERSEDE\n"},
      {meta::StatusPath("hello", "prod", "web-3", "hello"), "running: \"1.0.0\"\n"},
      {Dir("web-4") + "/20261122T090000Z-1.0.0-to-9.0.0.txtpb", "verdict: REJECT\n"},
  }));
  ASSERT_NO_FATAL_FAILURE(Commit({
      {d + "/20261122T020000Z-1.0.0-to-2.0.0.2.txtpb", "verdict: REJECT\n"},
      {d + "/20261122T030000Z-1.0.0-to-3.0.0.txtpb", "verdict: REJECT\nbogus: 1\n"},
      {d + "/README.md", "not a record\n"},
  }));

  DecisionListing all = Source().List();
  EXPECT_TRUE(all.error.empty()) << all.error;
  EXPECT_EQ(Ids(all), (std::vector<std::string>{"20261122T020000Z-1.0.0-to-2.0.0.2",
                                                "20261122T020000Z-1.0.0-to-2.0.0",
                                                "20261122T010000Z-none-to-1.0.0"}));
  ASSERT_EQ(Problems(all).size(), 1u);
  EXPECT_EQ(Problems(all)[0].rfind(d + "/20261122T030000Z-1.0.0-to-3.0.0.txtpb:2:", 0), 0u)
      << Problems(all)[0];
  EXPECT_EQ(all.entries[3].path, d + "/20261122T010000Z-none-to-1.0.0.txtpb");
  EXPECT_EQ(all.entries[3].decision.to_version(), "1.0.0");
  EXPECT_EQ(Ids(Source().List(2)), (std::vector<std::string>{"20261122T020000Z-1.0.0-to-2.0.0.2"}));
  EXPECT_EQ(Source().Describe(), Repo() + " (branch main) " + d);

  // `show` finds one by id, as in the base folder.
  auto found = FindDecision(all, "20261122T01");
  ASSERT_NE(found.entry, nullptr);
  EXPECT_EQ(found.entry->decision.verdict(), Verdict::PROMOTE);

  EXPECT_EQ(Ids(Source("web-4").List()),
            (std::vector<std::string>{"20261122T090000Z-1.0.0-to-9.0.0"}));
}

// A repository with no commit yet, or no decisions for the host, lists nothing and no problem.
TEST_F(MetaDecisionSourceTest, EmptyRepositoryListsNothing) {
  DecisionListing none = Source().List();
  EXPECT_TRUE(none.entries.empty());
  EXPECT_TRUE(none.error.empty()) << none.error;
  ASSERT_NO_FATAL_FAILURE(Commit({{"README.md", "meta\n"}}));
  EXPECT_TRUE(Source().List().entries.empty());
}

}  // namespace
}  // namespace yoke
