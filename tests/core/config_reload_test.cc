// What a SIGHUP re-read applies live and what it names as needing a restart.
#include "core/config_reload.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace yoke {
namespace {

Config Parse(const std::string& text) {
  Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  return config;
}

const char* kBase =
    "service: \"hello\" base_dir: \"/srv/hello\" listen: \"0.0.0.0:8080\" "
    "command: \"{artifact} --port {port}\" judge { min_pairs: 400 } log { level: \"info\" } "
    "proxy { threads: 2 drain_timeout_ms: 5000 }\n";

// The same file again changes nothing.
TEST(ConfigReloadTest, SameFileChangesNothing) {
  auto plan = PlanReload(Parse(kBase), Parse(kBase));
  EXPECT_TRUE(plan.changed_live.empty());
  EXPECT_TRUE(plan.needs_restart.empty());
}

// Live fields are taken from the new file; the others are named and keep their running value.
TEST(ConfigReloadTest, LiveFieldsApplyAndTheOthersAreNamed) {
  Config next = Parse(kBase);
  next.mutable_judge()->set_min_pairs(50);
  next.mutable_log()->set_level("debug");
  next.mutable_log()->set_file_count(9);
  next.mutable_proxy()->set_drain_timeout_ms(100);
  next.mutable_proxy()->set_threads(4);
  next.set_listen("0.0.0.0:9090");
  next.mutable_health()->set_interval_ms(77);
  (*next.mutable_env())["A"] = "b";
  auto plan = PlanReload(Parse(kBase), next);
  EXPECT_EQ(plan.changed_live,
            (std::vector<std::string>{"health", "log.level", "proxy.drain_timeout_ms", "judge"}));
  EXPECT_EQ(plan.needs_restart,
            (std::vector<std::string>{"listen", "env", "log.file_count", "proxy.threads"}));
  EXPECT_EQ(plan.applied.judge().min_pairs(), 50u);
  EXPECT_EQ(plan.applied.log().level(), "debug");
  EXPECT_EQ(plan.applied.proxy().drain_timeout_ms(), 100u);
  EXPECT_EQ(plan.applied.health().interval_ms(), 77u);
  EXPECT_EQ(plan.applied.listen(), "0.0.0.0:8080");
  EXPECT_EQ(plan.applied.proxy().threads(), 2u);
  EXPECT_EQ(plan.applied.log().file_count(), Config().log().file_count());
  EXPECT_TRUE(plan.applied.env().empty());
}

// A field written out at its default value and a field left out mean the same.
TEST(ConfigReloadTest, ExplicitDefaultIsNoChange) {
  Config next = Parse(kBase);
  next.set_tick_ms(Config().tick_ms());
  auto plan = PlanReload(Parse(kBase), next);
  EXPECT_TRUE(plan.needs_restart.empty());
}

// A live field removed from the file goes back to its default.
TEST(ConfigReloadTest, RemovedLiveFieldReturnsToItsDefault) {
  Config next = Parse(kBase);
  next.mutable_judge()->clear_min_pairs();
  auto plan = PlanReload(Parse(kBase), next);
  EXPECT_EQ(plan.changed_live, (std::vector<std::string>{"judge"}));
  EXPECT_EQ(plan.applied.judge().min_pairs(), Config().judge().min_pairs());
}

TEST(ConfigReloadTest, LivePathsIncludeWhatLiesUnder) {
  EXPECT_TRUE(IsLiveConfigField("judge.margins"));
  EXPECT_TRUE(IsLiveConfigField("proxy.drain_timeout_ms"));
  EXPECT_FALSE(IsLiveConfigField("proxy.threads"));
  EXPECT_FALSE(IsLiveConfigField("judgement"));
  EXPECT_FALSE(IsLiveConfigField("listen"));
}

}  // namespace
}  // namespace yoke
