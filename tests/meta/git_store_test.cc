// GitStore against real repositories in a temp folder: commits from an in-memory index, the
// working tree of a clone following them, compare-and-swap between two writers, and the
// fetch / re-apply / push cycle against a bare remote over file://.
#include "meta/git_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/fakes/git_servers.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::TempDir;

const meta::Author kAlice{"alice", "alice@example.com"};

std::unique_ptr<meta::GitStore> Must(StatusOr<std::unique_ptr<meta::GitStore>> store) {
  EXPECT_TRUE(store) << store.error().message();
  return std::move(*store);
}

class GitStoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// What is committed can be read back from the tip, listed, and seen in the log.
TEST_F(GitStoreTest, CommitsAndReadsBackFromTheTip) {
  auto store = Must(meta::GitStore::OpenOrInit((dir_.path() / "r").string(), "main", true));
  EXPECT_EQ(*store->Tip(), "");
  EXPECT_FALSE(*store->ReadFile("a/b.txt"));
  auto first = store->Commit({{"a/b.txt", "one"}, {"a/c/d.txt", "two"}}, "first", kAlice);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(**store->ReadFile("a/b.txt"), "one");
  EXPECT_EQ(*store->ListFiles("a"), (std::vector<std::string>{"a/b.txt", "a/c/d.txt"}));
  EXPECT_EQ(*store->ListFiles(""), (std::vector<std::string>{"a/b.txt", "a/c/d.txt"}));
  EXPECT_TRUE(store->ListFiles("missing")->empty());

  // A change that changes nothing makes no commit; a removal does.
  EXPECT_EQ(*store->Commit({{"a/b.txt", "one"}}, "same", kAlice), *first);
  ASSERT_TRUE(store->Commit({{"a/b.txt", std::nullopt}}, "remove b", kAlice));
  EXPECT_FALSE(*store->ReadFile("a/b.txt"));
  auto log = *store->Log(10);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].message, "remove b");
  EXPECT_EQ(log[0].author, "alice");
}

// In a clone with a working tree, the files follow the commits, and a file an operator is
// editing is left alone.
TEST_F(GitStoreTest, WorkingTreeFollowsCommits) {
  fs::path repo = dir_.path() / "clone";
  auto store = Must(meta::GitStore::OpenOrInit(repo.string(), "main", false));
  ASSERT_TRUE(store->Commit({{"x/one.txt", "1"}}, "one", kAlice));
  EXPECT_EQ(ReadAll(repo / "x/one.txt"), "1");
  ASSERT_TRUE(store->Commit({{"x/two.txt", "2"}}, "two", kAlice));
  EXPECT_EQ(ReadAll(repo / "x/two.txt"), "2");
  testing::WriteAll(repo / "x/one.txt", "edited");
  ASSERT_TRUE(store->Commit({{"x/three.txt", "3"}}, "three", kAlice));
  EXPECT_EQ(ReadAll(repo / "x/one.txt"), "edited");
  EXPECT_EQ(ReadAll(repo / "x/three.txt"), "3");
}

// Two writers on one repository (the supervisor and `yoke meta`) never lose a commit.
TEST_F(GitStoreTest, TwoWritersOnOneRepositoryLoseNothing) {
  const std::string repo = (dir_.path() / "r").string();
  Must(meta::GitStore::OpenOrInit(repo, "main", true));
  auto write = [&](const std::string& who) {
    auto store = Must(meta::GitStore::Open(repo, "main"));
    for (int i = 0; i < 40; ++i) {
      auto c = store->Commit({{who + "/" + std::to_string(i), who}}, who, kAlice);
      ASSERT_TRUE(c) << c.error().message();
    }
  };
  std::thread a(write, "a"), b(write, "b");
  a.join();
  b.join();
  auto store = Must(meta::GitStore::Open(repo, "main"));
  EXPECT_EQ(store->ListFiles("")->size(), 80u);
  EXPECT_EQ(store->Log(1000)->size(), 80u);
}

// Two clones of one bare remote commit under their own paths; the second to push is refused,
// re-applies its commits on the new tip, and then lands. Nothing is lost or doubled.
TEST_F(GitStoreTest, ReappliesLocalCommitsOnTheRemoteTip) {
  const std::string remote = (dir_.path() / "remote.git").string();
  Must(meta::GitStore::OpenOrInit(remote, "main", true));
  auto a = Must(meta::GitStore::OpenOrInit((dir_.path() / "a").string(), "main", true));
  auto b = Must(meta::GitStore::OpenOrInit((dir_.path() / "b").string(), "main", true));
  ASSERT_TRUE(a->SetRemote("file://" + remote));
  ASSERT_TRUE(b->SetRemote("file://" + remote));
  ASSERT_TRUE(a->Fetch());  // an empty remote is fine
  EXPECT_EQ(*a->Ahead(), 0u);

  ASSERT_TRUE(a->Commit({{"hosts/a/1", "a1"}}, "a1", kAlice));
  EXPECT_EQ(*a->Ahead(), 1u);
  ASSERT_TRUE(a->Push());
  ASSERT_TRUE(a->Fetch());
  EXPECT_EQ(*a->Ahead(), 0u);

  ASSERT_TRUE(b->Commit({{"hosts/b/1", "b1"}}, "b1", kAlice));
  ASSERT_TRUE(b->Commit({{"hosts/b/2", "b2"}}, "b2", kAlice));
  ASSERT_TRUE(b->Fetch());
  auto applied = b->Integrate();
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_EQ(*applied, 2u);
  EXPECT_EQ(*b->Ahead(), 2u);
  ASSERT_TRUE(b->Push());
  ASSERT_TRUE(b->Fetch());
  EXPECT_EQ(*b->Ahead(), 0u);

  auto r = Must(meta::GitStore::Open(remote, "main"));
  EXPECT_EQ(*r->ListFiles(""), (std::vector<std::string>{"hosts/a/1", "hosts/b/1", "hosts/b/2"}));
  auto log = *r->Log(100);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].message, "b2");
  EXPECT_EQ(log[2].message, "a1");

  // a catches up by fast-forward.
  ASSERT_TRUE(a->Fetch());
  EXPECT_EQ(*a->Integrate(), 0u);
  EXPECT_EQ(*a->Tip(), *r->Tip());
}

// A commit made straight in a remote on a path after a clone's fetch (an operator's channel
// move, a captain's stage move) is never overwritten by the clone's push: the push is refused,
// and after a fetch and re-apply both land. The refused push wrote nothing there, and neither
// side gains a pack file (one per fetch or push would slow a shared remote down).
TEST_F(GitStoreTest, PushToAPathNeverOverwritesACommitMadeThereAfterTheFetch) {
  const std::string remote = (dir_.path() / "remote.git").string();
  auto r = Must(meta::GitStore::OpenOrInit(remote, "main", true));
  ASSERT_TRUE(r->Commit({{"README", "meta"}}, "start", kAlice));
  auto a = Must(meta::GitStore::OpenOrInit((dir_.path() / "a").string(), "main", true));
  ASSERT_TRUE(a->SetRemote(remote));  // a plain path, as well as file://
  ASSERT_TRUE(a->Fetch());
  ASSERT_TRUE(a->Integrate());
  ASSERT_TRUE(a->Commit({{"hosts/a/1", "a1"}}, "a1", kAlice));
  ASSERT_TRUE(r->Commit({{"channels/stable", "2.0.0"}}, "channel move", kAlice));

  auto loose = [](const fs::path& repo, const std::string& id) {
    return fs::exists(repo / "objects" / id.substr(0, 2) / id.substr(2));
  };
  auto packs = [](const fs::path& repo) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(repo / "objects" / "pack")) {
      n += e.path().extension() == ".pack";
    }
    return n;
  };
  const std::string refused_tip = *a->Tip();
  auto pushed = a->Push();
  ASSERT_FALSE(pushed);
  EXPECT_EQ(pushed.error().code(), ErrorCode::kConflict) << pushed.error().message();
  EXPECT_EQ(**r->ReadFile("channels/stable"), "2.0.0");
  EXPECT_FALSE(loose(remote, refused_tip)) << "a refused push copied its commit";
  ASSERT_TRUE(a->Fetch());
  ASSERT_TRUE(a->Integrate());
  ASSERT_TRUE(a->Push());
  EXPECT_EQ(**r->ReadFile("channels/stable"), "2.0.0");
  EXPECT_EQ(**r->ReadFile("hosts/a/1"), "a1");
  EXPECT_TRUE(loose(remote, *a->Tip()));
  EXPECT_EQ(packs(remote), 0u);
  EXPECT_EQ(packs(dir_.path() / "a"), 0u);
}

// A clone that gathered many packs (libgit2 writes one per fetch over ssh or https; here made
// with `git repack`) is repacked into one at the next fetch, and every record still reads.
TEST_F(GitStoreTest, ManyPacksAreRepackedIntoOneAtAFetch) {
  const std::string remote = (dir_.path() / "remote.git").string();
  auto r = Must(meta::GitStore::OpenOrInit(remote, "main", true));
  ASSERT_TRUE(r->Commit({{"README", "meta"}}, "start", kAlice));
  const fs::path clone = dir_.path() / "a";
  auto a = Must(meta::GitStore::OpenOrInit(clone.string(), "main", true));
  ASSERT_TRUE(a->SetRemote(remote));
  ASSERT_TRUE(a->Fetch());
  ASSERT_TRUE(a->Integrate());
  auto packs = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(clone / "objects" / "pack")) {
      n += e.path().extension() == ".pack";
    }
    return n;
  };
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(a->Commit({{"hosts/a/" + std::to_string(i), std::to_string(i)}}, "c", kAlice));
    std::string out;
    ASSERT_EQ(
        testing::RunProgram({"git", "-C", clone.string(), "repack", "-q", "-d"}, dir_.path(), &out),
        0)
        << out;
  }
  ASSERT_EQ(packs(), 40u);
  ASSERT_TRUE(a->Fetch());
  EXPECT_EQ(packs(), 1u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(**a->ReadFile("hosts/a/" + std::to_string(i)), std::to_string(i));
  }
  ASSERT_TRUE(a->Push());
  EXPECT_EQ(**r->ReadFile("hosts/a/39"), "39");
}

// The captain's clone drops a move the remote refused: its branch goes back to the remote's
// tip as last fetched, and nothing of the move is pushed later.
TEST_F(GitStoreTest, DropLocalCommitsGoesBackToTheFetchedTip) {
  const std::string remote = (dir_.path() / "remote.git").string();
  auto r = Must(meta::GitStore::OpenOrInit(remote, "main", true));
  ASSERT_TRUE(r->Commit({{"README", "meta"}}, "start", kAlice));
  auto a = Must(meta::GitStore::OpenOrInit((dir_.path() / "a").string(), "main", true));
  ASSERT_TRUE(a->SetRemote("file://" + remote));
  ASSERT_TRUE(a->Fetch());
  ASSERT_TRUE(a->Integrate());
  ASSERT_TRUE(a->Commit({{"rollout", "stage 2"}}, "move", kAlice));
  EXPECT_EQ(*a->Ahead(), 1u);
  ASSERT_TRUE(a->DropLocalCommits());
  EXPECT_EQ(*a->Ahead(), 0u);
  EXPECT_EQ(*a->Tip(), *r->Tip());
  EXPECT_FALSE(*a->ReadFile("rollout"));
}

// A remote that is not there is an error, not a crash, and the local commits stay.
TEST_F(GitStoreTest, UnreachableRemoteIsAnError) {
  auto a = Must(meta::GitStore::OpenOrInit((dir_.path() / "a").string(), "main", true));
  ASSERT_TRUE(a->SetRemote("file://" + (dir_.path() / "nowhere").string()));
  ASSERT_TRUE(a->Commit({{"f", "1"}}, "one", kAlice));
  EXPECT_FALSE(a->Fetch());
  EXPECT_FALSE(a->Push());
  EXPECT_EQ(*a->Ahead(), 1u);
}

// A path remote whose branch names a commit it does not hold (a copy cut short, a disk that
// lost a file): the fetch fails with the remote named, origin stays where it was, and the
// clone's own commits stay queued; once the object is back, the fetch works again.
TEST_F(GitStoreTest, APathRemoteMissingAnObjectFailsTheFetchAndChangesNothing) {
  const fs::path remote = dir_.path() / "remote.git";
  auto r = Must(meta::GitStore::OpenOrInit(remote.string(), "main", true));
  ASSERT_TRUE(r->Commit({{"README", "meta"}}, "start", kAlice));
  auto a = Must(meta::GitStore::OpenOrInit((dir_.path() / "a").string(), "main", true));
  ASSERT_TRUE(a->SetRemote("file://" + remote.string()));
  ASSERT_TRUE(a->Fetch());
  ASSERT_TRUE(a->Integrate());
  const std::string seen = *a->Tip();
  ASSERT_TRUE(a->Commit({{"hosts/a/1", "a1"}}, "a1", kAlice));
  auto moved = r->Commit({{"channels/stable", "2.0.0"}}, "move", kAlice);
  ASSERT_TRUE(moved);
  const std::string tip = *moved;
  const fs::path object = remote / "objects" / tip.substr(0, 2) / tip.substr(2);
  const fs::path aside = dir_.path() / "aside";
  fs::rename(object, aside);

  auto fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message().find("remote.git"), std::string::npos)
      << fetched.error().message();
  ASSERT_TRUE(a->Integrate());
  EXPECT_EQ(*a->Ahead(), 1u);  // its own commit is still queued, on the tip it last saw
  const std::string queued = *a->Tip();
  EXPECT_FALSE(a->Push());  // the remote moved: refused, and nothing of it written there
  EXPECT_FALSE(fs::exists(remote / "objects" / queued.substr(0, 2) / queued.substr(2)));

  fs::rename(aside, object);
  ASSERT_TRUE(a->Fetch());
  ASSERT_TRUE(a->Integrate());
  ASSERT_TRUE(a->Push());
  EXPECT_EQ(**r->ReadFile("hosts/a/1"), "a1");
  EXPECT_EQ(**r->ReadFile("channels/stable"), "2.0.0");
  EXPECT_NE(*a->Tip(), seen);
}

}  // namespace
}  // namespace yoke
