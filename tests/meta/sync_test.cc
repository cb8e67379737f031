// MetaSync against real git repositories over file://: decisions written to a base reach the
// remote once each, from two hosts pushing at once, across an unreachable remote and across a
// restart; a channel move hands a checked artifact to the intake, and a bad one starts nothing.
#include "meta/sync.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "base-layout/text_record.h"
#include "meta/digest.h"
#include "meta/layout.h"
#include "meta/records.h"
#include "platform/posix_env.h"
#include "platform/real_clock.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::WaitUntil;

const meta::Author kOperator{"op", "op@example.com"};

class MetaSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    remote_ = dir_.path() / "remote.git";
    ASSERT_TRUE(meta::GitStore::OpenOrInit(remote_.string(), "main", true));
  }

  std::unique_ptr<meta::MetaSync> MakeSync(const std::string& host, const std::string& url) {
    fs::path base = dir_.path() / host;
    fs::create_directories(base / "decisions");
    fs::create_directories(base / "state");
    meta::MetaSyncOptions options;
    options.settings.set_url(url);
    options.settings.set_project("shop");
    options.settings.set_host(host);
    options.settings.set_poll_interval_s(1);
    options.service = "shop";
    options.identifier = "shop";
    options.base = base;
    options.env = PosixEnv();
    options.yoke_version = "test";
    options.is_current = [this](const std::string& v) {
      std::lock_guard lock(mu_);
      return current_.contains(v);
    };
    options.no_room = [this](uint64_t bytes) -> std::optional<std::string> {
      std::lock_guard lock(mu_);
      if (room_ >= bytes) return std::nullopt;
      return "not fetched: no room for " + std::to_string(bytes) + " bytes";
    };
    auto sync = std::make_unique<meta::MetaSync>(std::move(options), &clock_);
    auto started = sync->Start();
    EXPECT_TRUE(started) << started.error().message();
    return sync;
  }

  // A release of `version` whose artifact, a small script under build/, is made here.
  Release BuiltRelease(const std::string& version) {
    fs::path artifact = dir_.path() / "build" / ("shop-" + version + ".sh");
    testing::WriteAll(artifact, "#!/bin/sh\necho hi\n");
    auto digest = meta::DigestFile(artifact);
    EXPECT_TRUE(digest);
    Release release;
    release.set_version(version);
    release.mutable_artifact()->set_uri("file://" + artifact.string());
    release.mutable_artifact()->set_sha256(digest ? digest->sha256 : "");
    release.mutable_artifact()->set_size(digest ? digest->size : 0);
    return release;
  }

  // Writes a decision into a host's base, as the supervisor does, and tells meta.
  void Decide(meta::MetaSync& sync, const std::string& host, int n) {
    Decision d;
    d.set_service("shop");
    d.set_host(host);
    d.set_from_version("1.0.0");
    d.set_to_version("2.0." + std::to_string(n));
    d.set_verdict(Verdict::REJECT);
    d.set_time("2026-11-22T10:00:00Z");
    d.set_author("judge");
    char name[64];
    std::snprintf(name, sizeof name, "20261122T1000%02dZ-1.0.0-to-2.0.%d.txtpb", n % 60, n);
    ASSERT_TRUE(WriteTextRecord(*PosixEnv(), dir_.path() / host / "decisions" / name, d));
    sync.Notify("1.0.0", "");
  }

  std::unique_ptr<meta::GitStore> Remote() {
    auto store = meta::GitStore::Open(remote_.string(), "main");
    EXPECT_TRUE(store);
    return std::move(*store);
  }

  // The decisions in the remote's history, by path, with the number of commits adding each.
  std::map<std::string, int> RemoteDecisions() {
    auto remote = Remote();
    std::map<std::string, int> seen;
    auto decisions = meta::ReadDecisions(*remote, "");
    for (const auto& d : decisions->entries) seen[d.path] = 0;
    auto log = remote->Log(100000);
    for (const auto& c : *log) {
      if (c.message.find(": reject ") != std::string::npos) ++seen["commits"];
    }
    return seen;
  }

  testing::TempDir dir_;
  fs::path remote_;
  RealClock clock_;
  std::mutex mu_;
  std::set<std::string> current_;
  uint64_t room_ = UINT64_MAX;  // GUARDED_BY(mu_): bytes the free-space floor leaves
};

// Two hosts share one remote and make 50 decisions each at the same time: all 100 land in the
// remote's history, each in one commit, none lost and none doubled.
TEST_F(MetaSyncTest, TwoHostsPushingAtOnceLoseNothing) {
  auto h1 = MakeSync("h1", "file://" + remote_.string());
  auto h2 = MakeSync("h2", "file://" + remote_.string());
  std::thread t1([&] {
    for (int i = 0; i < 50; ++i) Decide(*h1, "h1", i);
  });
  std::thread t2([&] {
    for (int i = 0; i < 50; ++i) Decide(*h2, "h2", i);
  });
  t1.join();
  t2.join();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto seen = RemoteDecisions();
        return seen.size() == 101 && h1->Snapshot().queued() == 0 && h2->Snapshot().queued() == 0;
      },
      60s))
      << "remote has " << RemoteDecisions().size() - 1 << " decisions; h1 queued "
      << h1->Snapshot().queued() << ", h2 queued " << h2->Snapshot().queued();
  EXPECT_EQ(RemoteDecisions()["commits"], 100);
  // Each host's status is in the remote too.
  auto status = meta::Read<HostStatus>(*Remote(), meta::StatusPath("shop", "prod", "h2", "shop"));
  ASSERT_TRUE(status && *status);
  EXPECT_EQ((*status)->running(), "1.0.0");
}

// While the remote is away, decisions queue (and /status says how many); when it returns each
// arrives once. A restart in between loses nothing and commits nothing twice.
TEST_F(MetaSyncTest, QueuesWhileTheRemoteIsAwayAndDeliversOnce) {
  auto sync = MakeSync("h1", "file://" + remote_.string());
  Decide(*sync, "h1", 1);
  ASSERT_TRUE(WaitUntil([&] { return RemoteDecisions().size() == 2; }, 20s));

  fs::path away = dir_.path() / "away.git";
  fs::rename(remote_, away);
  for (int i = 2; i <= 4; ++i) Decide(*sync, "h1", i);
  ASSERT_TRUE(WaitUntil([&] { return sync->Snapshot().queued() >= 3; }, 20s))
      << sync->Snapshot().queued();
  EXPECT_FALSE(sync->Snapshot().remote_ok());

  // Restart the supervisor's meta while the remote is still away.
  sync->Stop();
  sync.reset();
  sync = MakeSync("h1", "file://" + remote_.string());
  EXPECT_GE(sync->Snapshot().queued(), 3) << "a restart must not report an empty queue";
  Decide(*sync, "h1", 5);
  fs::rename(away, remote_);
  ASSERT_TRUE(WaitUntil(
      [&] { return RemoteDecisions().size() == 6 && sync->Snapshot().queued() == 0; }, 40s))
      << RemoteDecisions().size() - 1 << " decisions; queued " << sync->Snapshot().queued();
  EXPECT_EQ(RemoteDecisions()["commits"], 5);
  // queued reaches 0 only after the push was confirmed by a fetch, so the remote counts as back.
  EXPECT_TRUE(sync->Snapshot().remote_ok());
}

// A channel pointing at a new release gets its artifact checked and dropped into the base for
// the intake, with the release's provenance and the channel's flags in EnvFor. A release whose
// artifact does not match its sha256 starts nothing, and the host status says why.
TEST_F(MetaSyncTest, HandsACheckedArtifactToTheIntakeAndRefusesABadOne) {
  auto remote = Remote();
  Release good = BuiltRelease("2.0.0");
  auto* source = good.add_source();
  source->set_repo("git@example.com:team/shop-api.git");
  source->set_githash("4f2a9c1");
  ASSERT_TRUE(meta::AddRelease(*remote, "shop", good, kOperator));
  Release bad = good;
  bad.set_version("3.0.0");
  bad.mutable_artifact()->set_sha256(std::string(64, '0'));
  ASSERT_TRUE(meta::AddRelease(*remote, "shop", bad, kOperator));
  ASSERT_TRUE(meta::SetChannel(*remote, "shop", "prod", "stable", "2.0.0",
                               std::map<std::string, std::string>{{"new-cart", "on"}}, kOperator));

  auto sync = MakeSync("h1", "file://" + remote_.string());
  fs::path drop = dir_.path() / "h1" / "shop-2.0.0.sh";
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(drop); }, 20s));
  EXPECT_EQ(testing::ReadAll(drop), "#!/bin/sh\necho hi\n");
  auto env = sync->EnvFor("2.0.0");
  EXPECT_EQ(env["YOKE_CHANNEL"], "stable");
  EXPECT_EQ(env["YOKE_SOURCE_SHOP_API"], "4f2a9c1");
  EXPECT_EQ(env["YOKE_FLAG_NEW_CART"], "on");
  {
    std::lock_guard lock(mu_);
    current_.insert("2.0.0");  // the supervisor took it in
  }
  fs::remove(drop);

  ASSERT_TRUE(
      meta::SetChannel(*remote, "shop", "prod", "stable", "3.0.0", std::nullopt, kOperator));
  sync->Notify("2.0.0", "");
  ASSERT_TRUE(WaitUntil([&] { return sync->Snapshot().artifact_failures() == 1; }, 20s));
  EXPECT_FALSE(fs::exists(dir_.path() / "h1" / "shop-3.0.0.sh"));
  EXPECT_NE(sync->Snapshot().last_error().find("sha256"), std::string::npos)
      << sync->Snapshot().last_error();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto status =
            meta::Read<HostStatus>(*Remote(), meta::StatusPath("shop", "prod", "h1", "shop"));
        return status && *status && (*status)->error().find("sha256") != std::string::npos;
      },
      20s));
}

// What a channel or release names becomes a path in the base: a channel pointing at something
// that is not a version, or a release whose record names another version, is a bad record and
// fetches nothing. A release without a size, or one the free-space floor has no room for, is
// refused before any byte is fetched.
TEST_F(MetaSyncTest, RefusesUnsafeVersionsEmptyArtifactsAndNoRoom) {
  auto remote = Remote();
  Release good = BuiltRelease("2.0.0");
  ASSERT_TRUE(meta::AddRelease(*remote, "shop", good, kOperator));
  // Written by hand, as a careless or hostile commit would: AddRelease refuses these.
  Release liar = good;
  liar.set_version("../../../../tmp/evil");
  ASSERT_TRUE(remote->Commit({{"shop/prod/channels/stable.txtpb", "release: \"../../x\"\n"},
                              {"shop/releases/3.0.0.txtpb", liar.DebugString()}},
                             "unsafe", kOperator));
  {
    std::lock_guard lock(mu_);
    room_ = 0;
  }
  auto sync = MakeSync("h1", "file://" + remote_.string());
  ASSERT_TRUE(WaitUntil([&] { return sync->Snapshot().bad_records() >= 1; }, 20s));
  EXPECT_NE(sync->Snapshot().last_error().find("is not a version"), std::string::npos)
      << sync->Snapshot().last_error();

  ASSERT_TRUE(
      meta::SetChannel(*remote, "shop", "prod", "stable", "3.0.0", std::nullopt, kOperator));
  sync->FetchNow();
  ASSERT_TRUE(WaitUntil(
      [&] { return sync->Snapshot().last_error().find("does not match") != std::string::npos; },
      20s))
      << sync->Snapshot().last_error();

  ASSERT_TRUE(
      meta::SetChannel(*remote, "shop", "prod", "stable", "2.0.0", std::nullopt, kOperator));
  sync->FetchNow();
  ASSERT_TRUE(WaitUntil([&] { return sync->Snapshot().artifact_failures() == 1; }, 20s));
  EXPECT_NE(sync->Snapshot().last_error().find("no room"), std::string::npos)
      << sync->Snapshot().last_error();
  EXPECT_TRUE(fs::is_empty(dir_.path() / "h1" / "state" / "fetch"));
  EXPECT_FALSE(fs::exists(dir_.path() / "h1" / "shop-2.0.0.sh"));
  EXPECT_FALSE(fs::exists(dir_.path() / "tmp"));

  // Space freed: the next pass fetches it, without a new commit.
  {
    std::lock_guard lock(mu_);
    room_ = UINT64_MAX;
  }
  sync->FetchNow();
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(dir_.path() / "h1" / "shop-2.0.0.sh"); }, 20s))
      << sync->Snapshot().last_error();
  EXPECT_EQ(sync->Snapshot().artifact_failures(), 1);

  // A release that gives no size is refused before anything is fetched.
  Release sizeless = BuiltRelease("4.0.0");
  sizeless.mutable_artifact()->clear_size();
  ASSERT_TRUE(remote->Commit({{"shop/releases/4.0.0.txtpb", sizeless.DebugString()},
                              {"shop/prod/channels/stable.txtpb", "release: \"4.0.0\"\n"}},
                             "sizeless", kOperator));
  sync->FetchNow();
  ASSERT_TRUE(WaitUntil([&] { return sync->Snapshot().artifact_failures() == 2; }, 20s));
  EXPECT_NE(sync->Snapshot().last_error().find("no artifact size"), std::string::npos)
      << sync->Snapshot().last_error();
  EXPECT_FALSE(fs::exists(dir_.path() / "h1" / "shop-4.0.0.sh"));
}

}  // namespace
}  // namespace yoke
