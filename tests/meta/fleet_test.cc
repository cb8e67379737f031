// Staged rollouts, the captain and fleet-wide rollback against real git repositories: hosts are
// MetaSync instances (the code `yoke run` runs) over file:// on one bare remote, each with a
// small stand-in for its supervisor that takes in what meta drops into its base and promotes or
// rejects it; the captain is meta::CaptainPass on the remote itself.
#include "meta/fleet.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/record_text.h"
#include "meta/digest.h"
#include "meta/layout.h"
#include "meta/records.h"
#include "tests/fakes/fleet_sim.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::WaitUntil;

const meta::Author kOperator{"op", "op@example.com"};
const meta::Author kCaptain{"captain", "captain@example.com"};
const meta::CaptainTarget kStable{"shop", "prod", "stable"};

WallTime Now() { return std::chrono::system_clock::now(); }

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    remote_ = dir_.path() / "remote.git";
    auto store = meta::GitStore::OpenOrInit(remote_.string(), "main", true);
    ASSERT_TRUE(store);
    for (const char* v : {"1.0.0", "2.0.0", "3.0.0"}) {
      ASSERT_TRUE(meta::AddRelease(**store, "shop", BuiltRelease(v), kOperator));
    }
    ASSERT_TRUE(
        meta::SetChannel(**store, "shop", "prod", "stable", "1.0.0", std::nullopt, kOperator));
  }

  Release BuiltRelease(const std::string& version) {
    fs::path artifact = dir_.path() / "build" / ("shop-" + version + ".sh");
    testing::WriteAll(artifact, "#!/bin/sh\necho " + version + "\n");
    auto digest = meta::DigestFile(artifact);
    Release release;
    release.set_version(version);
    release.mutable_artifact()->set_uri("file://" + artifact.string());
    release.mutable_artifact()->set_sha256(digest ? digest->sha256 : "");
    release.mutable_artifact()->set_size(digest ? digest->size : 0);
    return release;
  }

  std::unique_ptr<meta::GitStore> Remote() {
    auto store = meta::GitStore::Open(remote_.string(), "main");
    EXPECT_TRUE(store);
    return std::move(*store);
  }

  bool AllStatusesIn(size_t n) {
    auto fleet = meta::ReadFleet(*Remote(), "shop", "prod");
    if (!fleet) return false;
    size_t with_channel = 0;
    for (const auto& row : fleet->rows) with_channel += row.member.channel == "stable";
    return with_channel == n;
  }

  testing::TempDir dir_;
  fs::path remote_;
  testing::FleetSim sim_{dir_.path(), "file://" + (dir_.path() / "remote.git").string()};
};

RolloutPlan ThreeStages() {
  RolloutPlan plan;
  auto* canary = plan.add_stages();
  canary->set_name("canary");
  canary->add_hosts("h01");
  auto* quarter = plan.add_stages();
  quarter->set_name("quarter");
  quarter->set_percent(25);
  auto* all = plan.add_stages();
  all->set_name("all");
  all->set_percent(100);
  plan.set_halt_on_reject(true);
  return plan;
}

// Two captains stepping on the same tip: one moves the rollout, the other's commit is refused
// (compare-and-swap), and its next step reads the move and does not repeat it.
TEST_F(FleetTest, TwoCaptainsNeverDoubleMoveAStage) {
  Rollout rollout;
  *rollout.mutable_plan() = ThreeStages();
  auto store = Remote();
  ASSERT_TRUE(store->Commit({{meta::RolloutPath("shop", "prod", "stable"), rollout.DebugString()}},
                            "plan", kOperator));
  ASSERT_TRUE(meta::SetChannel(*store, "shop", "prod", "stable", "2.0.0", std::nullopt, kOperator));
  std::atomic<int> moved{0}, conflicts{0};
  std::vector<std::thread> captains;
  for (int c = 0; c < 2; ++c) {
    captains.emplace_back([&] {
      auto mine = Remote();
      for (int i = 0; i < 20; ++i) {
        auto move = meta::CaptainPass(*mine, kStable, Now(), kCaptain);
        if (move && move->changed) ++moved;
        if (!move && move.error().code() == ErrorCode::kConflict) ++conflicts;
      }
    });
  }
  for (auto& t : captains) t.join();
  // No host in the fleet: stage 1 (h01, never seen) waits, so only the start is a move.
  EXPECT_EQ(moved.load(), 1) << conflicts.load() << " conflicts";
  auto log = Remote()->Log(100);
  size_t starts = 0;
  for (const auto& c : *log) starts += c.message.find("started") != std::string::npos;
  EXPECT_EQ(starts, 1u);
}

// A fleet-wide rollback: every host following the channel brings the version back at once,
// even the host that rejected it before, records a ROLLBACK, and does it once (not again after
// a restart, whatever it runs then).
TEST_F(FleetTest, FleetWideRollbackIsObeyedOnceByEveryHost) {
  for (int i = 1; i <= 3; ++i) sim_.Add(fmt::format("h{:02}", i));
  {
    std::lock_guard lock(sim_.hosts()[2]->mu);
    sim_.hosts()[2]->reject.insert("2.0.0");
  }
  sim_.Drive({"2.0.0", "3.0.0"});
  ASSERT_TRUE(
      meta::SetChannel(*Remote(), "shop", "prod", "stable", "2.0.0", std::nullopt, kOperator));
  ASSERT_TRUE(WaitUntil([&] { return sim_.Took("2.0.0").size() == 3; }, 60s))
      << sim_.hosts()[0]->sync->Snapshot().DebugString();
  ASSERT_TRUE(
      meta::SetChannel(*Remote(), "shop", "prod", "stable", "3.0.0", std::nullopt, kOperator));
  ASSERT_TRUE(WaitUntil([&] { return sim_.Took("3.0.0").size() == 3; }, 60s));

  FleetRollback order;
  order.set_version("2.0.0");
  order.set_reason("errors since 3.0.0");
  order.set_now(true);
  order.set_time(FormatRfc3339(Now()));
  order.set_author("op");
  ASSERT_TRUE(meta::OrderRollback(*Remote(), kStable, order, kOperator));
  auto all_run = [&](const std::string& version) {
    for (auto& h : sim_.hosts()) {
      std::lock_guard lock(h->mu);
      if (h->running != version) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitUntil([&] { return all_run("2.0.0"); }, 60s));
  for (auto& h : sim_.hosts()) {
    std::lock_guard lock(h->mu);
    EXPECT_EQ(h->last_rollback, "2.0.0 now op: fleet-wide rollback: errors since 3.0.0") << h->name;
  }
  // Every host's ROLLBACK decision reaches meta.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto fleet = meta::ReadFleet(*Remote(), "shop", "prod");
        size_t rollbacks = 0;
        for (const auto& e : fleet->decisions.entries) {
          rollbacks += e.decision.verdict() == Verdict::ROLLBACK;
        }
        return rollbacks == 3;
      },
      60s));
  // A restarted host (its stand-in starts at 1.0.0, as if moved by hand since) does not carry
  // the order out again: it follows the channel (now 2.0.0) as for any release, through the
  // intake and the judge.
  sim_.Remove("h01");
  testing::SimHost& again = sim_.Add("h01");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return again.sync->Snapshot().fleet_rollback().find("carried out before") !=
               std::string::npos;
      },
      30s))
      << again.sync->Snapshot().fleet_rollback();
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(again.mu);
        return again.taken == std::vector<std::string>{"2.0.0"};
      },
      30s));
  std::lock_guard lock(again.mu);
  EXPECT_EQ(again.last_rollback, "");
  EXPECT_EQ(again.running, "2.0.0");
}

// A rollout record that does not parse holds the host where it is, with the record's path and
// line in /status and a bad-record count; once the record is mended the host follows again.
TEST_F(FleetTest, ABadRolloutRecordHoldsTheHostAndSaysWhere) {
  testing::SimHost& h = sim_.Add("h01");
  sim_.Drive({"2.0.0"});
  ASSERT_TRUE(WaitUntil([&] { return AllStatusesIn(1); }, 30s));
  ASSERT_TRUE(Remote()->Commit(
      {{meta::RolloutPath("shop", "prod", "stable"), "plan { stages { percent: \"ten\" } }\n"}},
      "a bad plan", kOperator));
  ASSERT_TRUE(
      meta::SetChannel(*Remote(), "shop", "prod", "stable", "2.0.0", std::nullopt, kOperator));
  ASSERT_TRUE(WaitUntil(
      [&] { return h.sync->Snapshot().rollout_wait().find("does not parse") != std::string::npos; },
      30s))
      << h.sync->Snapshot().rollout_wait();
  EXPECT_THAT(h.sync->Snapshot().rollout_wait(), HasSubstr("shop/prod/rollouts/stable.txtpb:1:"));
  EXPECT_GE(h.sync->Snapshot().bad_records(), 1);
  EXPECT_TRUE(sim_.Took("2.0.0").empty());

  ASSERT_TRUE(Remote()->Commit({{meta::RolloutPath("shop", "prod", "stable"), std::nullopt}},
                               "no plan", kOperator));
  ASSERT_TRUE(WaitUntil([&] { return sim_.Took("2.0.0").size() == 1; }, 30s));
  EXPECT_EQ(h.sync->Snapshot().rollout_wait(), "");
}

// The fleet view: each host's roles and last decision, a host whose heartbeat stopped shown
// stale, and the status rewritten by the heartbeat when nothing changed.
TEST_F(FleetTest, FleetReportShowsRolesDecisionsAndStaleHosts) {
  sim_.Add("h01", /*heartbeat_s=*/1);
  ASSERT_TRUE(WaitUntil([&] { return AllStatusesIn(1); }, 30s));
  // With nothing changing, the status is written again by the heartbeat alone.
  auto beats = [&] {
    auto log = Remote()->Log(200);
    int n = 0;
    for (const auto& c : *log) n += c.message.starts_with("shop on h01: seen; running 1.0.0");
    return n;
  };
  ASSERT_TRUE(WaitUntil([&] { return beats() >= 2; }, 30s)) << beats();

  // A host that stopped an hour ago.
  HostStatus gone;
  gone.set_host("h09");
  gone.set_service("shop");
  gone.set_channel("stable");
  gone.set_running("1.0.0");
  gone.set_seen(FormatRfc3339(Now() - 3600s));
  ASSERT_TRUE(
      Remote()->Commit({{meta::StatusPath("shop", "prod", "h09", "shop"), gone.DebugString()},
                        {meta::StatusPath("shop", "prod", "h10", "shop"), "running: ["}},
                       "two more hosts", kOperator));
  auto report = meta::ReadFleetReport(*Remote(), "shop", "prod", Now());
  ASSERT_TRUE(report) << report.error().message();
  ASSERT_EQ(report->members_size(), 3);
  EXPECT_EQ(report->members(0).host(), "h01");
  EXPECT_FALSE(report->members(0).stale());
  EXPECT_EQ(report->members(0).judge(), "idle");
  EXPECT_EQ(report->members(1).host(), "h09");
  EXPECT_TRUE(report->members(1).stale());
  EXPECT_EQ(report->members(1).judge(), "unknown");
  EXPECT_GE(report->members(1).seen_age_s(), 3600);
  EXPECT_THAT(report->members(2).problem(), HasSubstr("status.txtpb:1:"));
}

// The fleet view and the captain read only what they need of a history that only grows:
// each host × service's newest decision, and (for the captain) the decisions targeting the
// channel's release. `yoke fleet decisions` still reads them all.
TEST_F(FleetTest, TheViewReadsOnlyTheNewestDecisionsAndTheReleasesOwn) {
  auto decide = [&](const std::string& host, const std::string& time, const std::string& from,
                    const std::string& to, Verdict verdict) {
    Decision d;
    d.set_host(host);
    d.set_service("shop");
    d.set_from_version(from);
    d.set_to_version(to);
    d.set_verdict(verdict);
    d.set_time(time.substr(0, 4) + "-" + time.substr(4, 2) + "-" + time.substr(6, 5) + ":" +
               time.substr(11, 2) + ":" + time.substr(13, 2) + "Z");
    return meta::FileChange{meta::DecisionsDir("shop", "prod", host, "shop") + "/" + time + "-" +
                                from + "-to-" + to + ".txtpb",
                            *PrintTextRecord(d)};
  };
  ASSERT_TRUE(
      Remote()->Commit({decide("h1", "20261101T100000Z", "1.0.0", "2.0.0", Verdict::REJECT),
                        decide("h1", "20261102T100000Z", "1.0.0", "3.0.0", Verdict::PROMOTE),
                        decide("h2", "20261101T110000Z", "1.0.0", "2.0.0", Verdict::PROMOTE),
                        decide("h2", "20261001T110000Z", "0.9.0", "1.0.0", Verdict::PROMOTE)},
                       "history", kOperator));
  auto all = meta::ReadFleet(*Remote(), "shop", "prod");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->decisions.entries.size(), 4u);
  auto view = meta::ReadFleet(*Remote(), "shop", "prod", {false, ""});
  ASSERT_TRUE(view);
  std::vector<std::string> ids;
  for (const auto& e : view->decisions.entries) ids.push_back(e.id);
  EXPECT_THAT(ids, ::testing::ElementsAre("20261102T100000Z-1.0.0-to-3.0.0",
                                          "20261101T110000Z-1.0.0-to-2.0.0"));
  auto captain = meta::ReadFleet(*Remote(), "shop", "prod", {false, "2.0.0"});
  ASSERT_TRUE(captain);
  ids.clear();
  for (const auto& e : captain->decisions.entries) ids.push_back(e.id);
  EXPECT_THAT(ids, ::testing::ElementsAre("20261102T100000Z-1.0.0-to-3.0.0",
                                          "20261101T110000Z-1.0.0-to-2.0.0",
                                          "20261101T100000Z-1.0.0-to-2.0.0"));
}

}  // namespace
}  // namespace yoke
