#include "core/rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace yoke {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

WallTime At(const char* text) { return *ParseUtc(text); }

RolloutPlan ThreeStages() {
  RolloutPlan plan;
  auto* canary = plan.add_stages();
  canary->set_name("canary");
  canary->add_hosts("web-1");
  canary->set_min_hold_s(600);
  auto* half = plan.add_stages();
  half->set_name("half");
  half->set_percent(50);
  auto* all = plan.add_stages();
  all->set_name("all");
  all->set_percent(100);
  plan.set_halt_on_reject(true);
  return plan;
}

std::vector<FleetMember> Fleet(int n, const std::string& running, WallTime seen) {
  std::vector<FleetMember> members;
  for (int i = 1; i <= n; ++i) {
    members.push_back({"web-" + std::to_string(i), "shop", "stable", running, "", seen});
  }
  return members;
}

TEST(ParseUtcTest, ReadsWhatFormatWrites) {
  const WallTime t = At("2026-11-22T10:02:11Z");
  EXPECT_EQ(FormatRfc3339(t), "2026-11-22T10:02:11Z");
  EXPECT_EQ(FormatRfc3339(t + 3600s), "2026-11-22T11:02:11Z");
  EXPECT_FALSE(ParseUtc(""));
  EXPECT_FALSE(ParseUtc("2026-11-22 10:02:11Z"));
  EXPECT_FALSE(ParseUtc("2026-13-22T10:02:11Z"));
  EXPECT_FALSE(ParseUtc("2026-11-22T10:02:11+01:00"));
}

TEST(AssignStagesTest, NamedHostsFirstThenPercentsByRankThenTheRest) {
  std::vector<std::string> hosts;
  for (int i = 1; i <= 20; ++i) hosts.push_back("web-" + std::to_string(i));
  const auto stages = AssignStages(ThreeStages(), hosts);
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_THAT(stages[0], ElementsAre("web-1"));
  EXPECT_EQ(stages[1].size(), 9u);  // 50% of 20, with web-1 already in stage 1
  EXPECT_EQ(stages[2].size(), 10u);
  // The same hosts in another order give the same stages: every captain agrees.
  std::vector<std::string> reversed(hosts.rbegin(), hosts.rend());
  reversed.push_back("web-3");  // a duplicate is one host
  EXPECT_EQ(AssignStages(ThreeStages(), reversed), stages);
}

TEST(AssignStagesTest, AStageWithoutPercentOrHostsIsEmptyAndTheLastTakesTheRest) {
  RolloutPlan plan;
  plan.add_stages()->set_percent(10);
  plan.add_stages();
  plan.add_stages()->set_percent(30);
  const auto stages = AssignStages(plan, {"a", "b", "c", "d", "e"});
  EXPECT_EQ(stages[0].size(), 1u);  // ceil(0.5)
  EXPECT_TRUE(stages[1].empty());
  EXPECT_EQ(stages[2].size(), 4u);  // 30% would be 2; the last stage takes the rest
}

TEST(CaptainStepTest, ANewReleaseStartsTheRolloutWithTheFirstStageOpen) {
  const WallTime now = At("2026-11-30T10:00:00Z");
  CaptainInput in{"stable", "2.1.0", {}, Fleet(20, "2.0.0", now), {}, now};
  *in.rollout.mutable_plan() = ThreeStages();
  CaptainMove move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  EXPECT_EQ(move.rollout.state().release(), "2.1.0");
  EXPECT_EQ(move.rollout.state().stages(0).opened(), "2026-11-30T10:00:00Z");
  EXPECT_TRUE(move.rollout.state().stages(1).opened().empty());
  EXPECT_THAT(move.message,
              HasSubstr("rollout stable 2.1.0: started; stage 1/3 \"canary\" open (web-1)"));
  EXPECT_TRUE(GateFor(move.rollout, "2.1.0", "web-1").open);
  RolloutGate closed = GateFor(move.rollout, "2.1.0", "web-2");
  EXPECT_FALSE(closed.open);
  EXPECT_THAT(closed.why, HasSubstr("not open yet"));
  // A step with nothing new changes nothing.
  in.rollout = move.rollout;
  EXPECT_FALSE(CaptainStep(in).changed);
}

TEST(CaptainStepTest, OpensTheNextStageOnlyWhenEveryHostPromotedAndTheHoldPassed) {
  WallTime now = At("2026-11-30T10:00:00Z");
  CaptainInput in{"stable", "2.1.0", {}, Fleet(20, "2.0.0", now), {}, now};
  *in.rollout.mutable_plan() = ThreeStages();
  in.rollout = CaptainStep(in).rollout;

  now += 300s;
  in.now = now;
  for (auto& m : in.members) m.seen = now;
  CaptainMove move = CaptainStep(in);
  EXPECT_FALSE(move.changed);
  EXPECT_THAT(move.notes, testing::Contains(HasSubstr("web-1/shop runs 2.0.0")));

  in.members[0].running = "2.1.0";  // web-1
  move = CaptainStep(in);
  EXPECT_FALSE(move.changed);
  EXPECT_THAT(move.notes, testing::Contains(HasSubstr("held 300 of 600 s")));

  now += 300s;
  in.now = now;
  for (auto& m : in.members) m.seen = now;
  move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  EXPECT_THAT(move.message, HasSubstr("stage 2/3 \"half\" open"));
  EXPECT_THAT(move.message, HasSubstr("stage 1/3 \"canary\" promoted on 1 host(s), held 600 s"));
  in.rollout = move.rollout;
  const auto& half = in.rollout.state().stages(1).hosts();
  ASSERT_EQ(half.size(), 9);
  EXPECT_TRUE(GateFor(in.rollout, "2.1.0", half[0]).open);
  EXPECT_FALSE(GateFor(in.rollout, "2.1.0", in.rollout.state().stages(2).hosts(0)).open);

  // Stage 2 and then 3 complete (no hold): finished. A host running the release with a
  // definition of its own (a config change promoted there) runs the release too.
  for (auto& m : in.members) m.running = "2.1.0";
  in.members[1].running = "2.1.0+def-0123456789ab";
  move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  EXPECT_THAT(move.message, HasSubstr("stage 3/3 \"all\" open"));
  in.rollout = move.rollout;
  move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  EXPECT_THAT(move.message, HasSubstr("finished"));
  EXPECT_FALSE(move.rollout.state().finished().empty());
}

TEST(CaptainStepTest, ARejectHaltsTheRolloutAndLaterStagesNeverOpen) {
  WallTime now = At("2026-11-30T10:00:00Z");
  CaptainInput in{"stable", "2.1.0", {}, Fleet(20, "2.0.0", now), {}, now};
  *in.rollout.mutable_plan() = ThreeStages();
  in.rollout = CaptainStep(in).rollout;
  in.now = now + 60s;
  in.rejects.push_back({"web-1",
                        "shop",
                        "shop/prod/hosts/web-1/shop/decisions/x.txtpb",
                        "worse",
                        {"5xx", "lost_routes"},
                        now + 50s});
  CaptainMove move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  EXPECT_EQ(move.rollout.state().halt().host(), "web-1");
  EXPECT_THAT(move.rollout.state().halt().gates(), ElementsAre("5xx", "lost_routes"));
  EXPECT_THAT(
      move.message,
      HasSubstr(
          "halted in stage 1/3 \"canary\": web-1/shop rejected it (gates: 5xx, lost_routes)"));
  for (int i = 1; i <= 20; ++i) {
    EXPECT_FALSE(GateFor(move.rollout, "2.1.0", "web-" + std::to_string(i)).open) << i;
  }
  // Halted stays halted, whatever the hosts do.
  in.rollout = move.rollout;
  for (auto& m : in.members) m.running = "2.1.0";
  in.now += 3600s;
  EXPECT_FALSE(CaptainStep(in).changed);
  // A reject from before this rollout started does not halt it.
  CaptainInput again{"stable", "2.2.0", {}, Fleet(3, "2.0.0", now), {}, now + 7200s};
  *again.rollout.mutable_plan() = ThreeStages();
  again.rollout = CaptainStep(again).rollout;
  again.rejects.push_back({"web-1", "shop", "p", "old", {}, now});
  EXPECT_FALSE(CaptainStep(again).changed);
}

TEST(CaptainStepTest, AStaleHostBlocksOrIsLeftOutAsThePlanSays) {
  WallTime now = At("2026-11-30T10:00:00Z");
  RolloutPlan plan;
  auto* first = plan.add_stages();
  first->add_hosts("web-1");
  first->add_hosts("web-2");
  plan.add_stages()->set_percent(100);
  plan.set_host_stale_s(600);
  CaptainInput in{"stable", "2.1.0", {}, Fleet(4, "2.1.0", now), {}, now};
  *in.rollout.mutable_plan() = plan;
  in.rollout = CaptainStep(in).rollout;
  in.now = now + 1000s;
  in.members[0].seen = in.now;  // web-1 current; web-2 last seen 1000 s ago
  CaptainMove move = CaptainStep(in);
  EXPECT_FALSE(move.changed);
  EXPECT_THAT(move.notes, testing::Contains(HasSubstr(
                              "web-2/shop is unknown (last seen 1000 s ago): the stage waits")));

  in.rollout.mutable_plan()->set_stale_hosts(StaleHosts::SKIP);
  move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  EXPECT_THAT(move.message, HasSubstr("stage 2/2 open"));
  EXPECT_THAT(move.notes, testing::Contains(HasSubstr("left out")));
}

TEST(CaptainStepTest, OtherChannelsHostsAndNoPlanAreIgnored) {
  const WallTime now = At("2026-11-30T10:00:00Z");
  CaptainInput in{"stable", "2.1.0", {}, Fleet(2, "2.0.0", now), {}, now};
  EXPECT_FALSE(CaptainStep(in).changed);  // no plan: nothing to do
  EXPECT_TRUE(GateFor(in.rollout, "2.1.0", "web-1").open);
  *in.rollout.mutable_plan() = ThreeStages();
  in.members[1].channel = "beta";
  CaptainMove move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  // Only web-1 follows stable; it was named, so the later stages hold nobody yet.
  EXPECT_TRUE(move.rollout.state().stages(1).hosts().empty());
  // A host that joins later is in the last stage.
  EXPECT_EQ(StageOf(move.rollout.state(), "web-99"), 2u);
  EXPECT_THAT(GateFor(move.rollout, "2.2.0", "web-1").why, HasSubstr("has not started"));
}

// Records are written by hand: a share that is NaN, negative or over 100, a state without
// stages, and a plan edited to fewer stages than its running rollout never crash a step.
TEST(CaptainStepTest, HandWrittenNonsenseIsReadSafely) {
  RolloutPlan plan;
  plan.add_stages()->set_percent(std::nan(""));
  plan.add_stages()->set_percent(-5);
  plan.add_stages()->set_percent(1e300);
  const auto stages = AssignStages(plan, {"a", "b", "c", "d"});
  EXPECT_TRUE(stages[0].empty());
  EXPECT_TRUE(stages[1].empty());
  EXPECT_EQ(stages[2].size(), 4u);

  const WallTime now = At("2026-11-30T10:00:00Z");
  CaptainInput in{"stable", "2.1.0", {}, Fleet(4, "2.1.0", now), {}, now};
  *in.rollout.mutable_plan() = plan;
  in.rollout.mutable_state()->set_release("2.1.0");  // no stages
  EXPECT_FALSE(GateFor(in.rollout, "2.1.0", "web-1").open);
  CaptainMove move = CaptainStep(in);
  ASSERT_TRUE(move.changed);
  EXPECT_THAT(move.message, HasSubstr("started"));

  // The plan loses its stages after the rollout froze three: the state's stages are kept, and
  // the stages past the plan hold for no time.
  in.rollout = move.rollout;
  in.rollout.mutable_plan()->mutable_stages()->DeleteSubrange(1, 2);
  in.rollout.mutable_state()->mutable_stages(0)->clear_hosts();
  for (int i = 0; i < 3; ++i) in.rollout = CaptainStep(in).rollout;
  EXPECT_FALSE(in.rollout.state().finished().empty());
}

}  // namespace
}  // namespace yoke
