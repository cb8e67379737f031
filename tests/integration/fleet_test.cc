// The fleet with real processes: five `yoke run` supervisors with the fixture service and
// fifteen simulated hosts (tests/fakes/fleet_sim.h: the same meta code) follow one bare remote
// over file://, and a real `yoke captain` moves a staged rollout through them; a real host's
// /status carries the fleet for its page. (A hundred hosts making a thousand decisions at once
// is bench/fleet_sim.cc: ten minutes on two cores.)
#include "meta/fleet.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "core/record_text.h"
#include "core/rollout.h"
#include "meta/git_store.h"
#include "meta/layout.h"
#include "meta/records.h"
#include "proto/yoke/status.pb.h"
#include "tests/fakes/fleet_sim.h"
#include "tests/fakes/http_client.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

const char* kJudge =
    "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 auto_promote_major: true }\n";

class FleetRunTest : public ::testing::Test {
 protected:
  FleetRunTest() : remote_(dir_.path() / "remote.git") {}

  void SetUp() override {
    for (int i = 1; i <= 5; ++i) {
      real_.push_back(std::make_unique<YokeHarness>(
          std::string(kJudge) + "meta { url: \"file://" + remote_.string() + "\" host: \"r" +
          std::to_string(i) + "\" poll_interval_s: 1 }\n"));
    }
    ASSERT_EQ(real_[0]->Cli({"meta", "init", "--bare", remote_.string()}).code, 0);
    Release("1.0.0");
    ASSERT_EQ(Meta({"channel", "set", "--version", "1.0.0"}).code, 0);
  }

  YokeHarness::CliResult Meta(std::vector<std::string> args) {
    args.insert(args.begin(), "meta");
    for (const char* a : {"--repo", remote_.c_str(), "--project", "hello"}) args.push_back(a);
    return real_[0]->Cli(args);
  }

  void Release(const std::string& version, const std::string& flags = "") {
    fs::path artifact = dir_.path() / "builds" / ("hello-" + version + ".sh");
    WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\" " + flags + "\n");
    fs::permissions(artifact, fs::perms::owner_all);
    auto added = Meta({"release", "add", "--version", version, "--artifact", artifact.string(),
                       "--source", "git@example.com:team/hello.git=" + std::string(40, 'a')});
    ASSERT_EQ(added.code, 0) << added.output;
  }

  std::unique_ptr<meta::GitStore> Remote() {
    auto store = meta::GitStore::Open(remote_.string(), "main");
    EXPECT_TRUE(store);
    return std::move(*store);
  }

  std::optional<Rollout> ReadRollout() {
    auto rollout = meta::Read<Rollout>(*Remote(), meta::RolloutPath("hello", "prod", "stable"));
    if (!rollout || !*rollout) return std::nullopt;
    return **rollout;
  }

  size_t StatusesFollowing() {
    auto fleet = meta::ReadFleet(*Remote(), "hello", "prod");
    if (!fleet) return 0;
    size_t n = 0;
    for (const auto& row : fleet->rows) n += row.member.channel == "stable";
    return n;
  }

  // How many hosts × services a real host's /status shows in meta.fleet.
  static size_t FleetOnStatusPage(YokeHarness& yoke) {
    boost::system::error_code ec;
    boost::json::value status = boost::json::parse(HttpGet(yoke.admin_port(), "/status").body, ec);
    if (ec || !status.is_object()) return 0;
    const auto* meta = status.as_object().if_contains("meta");
    const auto* fleet =
        meta && meta->is_object() ? meta->as_object().if_contains("fleet") : nullptr;
    const auto* members =
        fleet && fleet->is_object() ? fleet->as_object().if_contains("members") : nullptr;
    return members && members->is_array() ? members->as_array().size() : 0;
  }

  std::string Logs() {
    std::string out;
    for (auto& y : real_) out += y->Log();
    return out;
  }

  TempDir dir_;
  fs::path remote_;
  std::vector<std::unique_ptr<YokeHarness>> real_;
};

// A release moves through three stages across twenty hosts (five real), each host taking it
// only once its stage is open; a second release, a bad build, is rejected by the canary and
// the rollout halts there: no other host ever starts it. The waits are bounded for the
// sanitizer build, where twenty hosts sharing two cores take several times longer.
TEST_F(FleetRunTest, ThreeStagesAcrossTwentyHostsThenAHaltAtTheCanary) {
  Release("2.0.0");
  Release("3.0.0", "--error-rate 0.5");
  Rollout plan;
  auto* canary = plan.mutable_plan()->add_stages();
  canary->set_name("canary");
  canary->add_hosts("r1");
  auto* quarter = plan.mutable_plan()->add_stages();
  quarter->set_name("quarter");
  quarter->set_percent(25);
  auto* all = plan.mutable_plan()->add_stages();
  all->set_name("all");
  all->set_percent(100);
  plan.mutable_plan()->set_halt_on_reject(true);
  ASSERT_TRUE(
      Remote()->Commit({{meta::RolloutPath("hello", "prod", "stable"), *PrintTextRecord(plan)}},
                       "rollout plan for stable", {"op", "op@example.com"}));

  for (auto& y : real_) y->StartYoke();
  for (auto& y : real_) ASSERT_TRUE(y->WaitForRole("running", "1.0.0", 1, 30s)) << y->Log();
  FleetSim sim(dir_.path() / "sim", "file://" + remote_.string(), "hello", "hello");
  for (int i = 1; i <= 15; ++i) sim.Add(fmt::format("s{:02}", i));
  sim.Drive({"2.0.0", "3.0.0"});
  std::vector<std::unique_ptr<LoadGenerator>> load;
  for (auto& y : real_) {
    load.push_back(std::make_unique<LoadGenerator>(
        y->proxy_port(), std::vector<std::string>{"/version", "/items", "/orders/17"}, 1));
  }
  ASSERT_TRUE(WaitUntil([&] { return StatusesFollowing() == 20; }, 180s)) << StatusesFollowing();
  // A real host's /status carries the fleet for the page's Fleet panel (read every 30 s).
  ASSERT_TRUE(WaitUntil([&] { return FleetOnStatusPage(*real_[1]) == 20; }, 120s))
      << FleetOnStatusPage(*real_[1]);

  Subprocess captain({YokeBinary().string(), "captain", "--repo", remote_.string(), "--project",
                      "hello", "--interval", "1"},
                     dir_.path() / "captain.out");
  ASSERT_EQ(Meta({"channel", "set", "--version", "2.0.0"}).code, 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = ReadRollout();
        return r && r->state().release() == "2.0.0" && !r->state().finished().empty();
      },
      480s))
      << ReadAll(dir_.path() / "captain.out") << Logs();
  const Rollout done = *ReadRollout();
  // Every host promoted 2.0.0, none before its stage opened.
  auto fleet = meta::ReadFleet(*Remote(), "hello", "prod");
  ASSERT_TRUE(fleet);
  size_t promoted = 0;
  for (const auto& entry : fleet->decisions.entries) {
    const Decision& d = entry.decision;
    if (d.verdict() != Verdict::PROMOTE || d.to_version() != "2.0.0") continue;
    ++promoted;
    const auto& stage = done.state().stages(StageOf(done.state(), d.host()));
    EXPECT_GE(d.time(), stage.opened()) << d.host() << " promoted before its stage opened";
  }
  EXPECT_EQ(promoted, 20u);
  EXPECT_EQ(done.state().stages(0).hosts_size(), 1);
  EXPECT_EQ(done.state().stages(1).hosts_size(), 4);  // 25% of 20, with r1 in stage 1
  EXPECT_EQ(done.state().stages(2).hosts_size(), 15);
  auto log = Remote()->Log(2000);
  size_t moves = 0;
  for (const auto& c : *log) {
    moves += c.author == "captain" && c.message.starts_with("rollout stable 2.0.0:");
  }
  EXPECT_EQ(moves, 4u);  // start, two stages opened, finished (1.0.0's own rollout aside)

  // 3.0.0 is a bad build: r1, the canary, rejects it and the rollout halts in stage 1.
  ASSERT_EQ(Meta({"channel", "set", "--version", "3.0.0"}).code, 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = ReadRollout();
        return r && r->state().release() == "3.0.0" && !r->state().halt().time().empty();
      },
      300s))
      << ReadAll(dir_.path() / "captain.out") << Logs();
  const Rollout halted = *ReadRollout();
  EXPECT_EQ(halted.state().halt().host(), "r1");
  EXPECT_THAT(halted.state().halt().decision(), HasSubstr("hello/prod/hosts/r1/hello/decisions/"));
  // Every other host has read the halt and says so; none of them took 3.0.0.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (size_t i = 1; i < real_.size(); ++i) {
          if (HttpGet(real_[i]->admin_port(), "/status").body.find("is halted") ==
              std::string::npos) {
            return false;
          }
        }
        for (auto& h : sim.hosts()) {
          if (h->sync->Snapshot().rollout_wait().find("halted") == std::string::npos) return false;
        }
        return true;
      },
      120s));
  EXPECT_TRUE(sim.Took("3.0.0").empty());
  fleet = meta::ReadFleet(*Remote(), "hello", "prod");
  for (const auto& entry : fleet->decisions.entries) {
    if (entry.decision.to_version() == "3.0.0") {
      EXPECT_EQ(entry.decision.host(), "r1");
    }
  }
  auto status =
      real_[0]->Cli({"fleet", "status", "--repo", remote_.string(), "--project", "hello"});
  EXPECT_EQ(status.code, 0);
  EXPECT_THAT(status.output, HasSubstr("rollout stable 3.0.0: halted, stage 1/3 canary; r1/hello "
                                       "rejected it"));
  for (auto& l : load) {
    l->Stop();
    EXPECT_EQ(l->failed(), 0u) << l->FailureReport();
  }
  captain.Signal(SIGTERM);
  auto ended = captain.Wait(10s);
  ASSERT_TRUE(ended);
  EXPECT_TRUE(WIFEXITED(*ended) && WEXITSTATUS(*ended) == 0);
  EXPECT_THAT(ReadAll(dir_.path() / "captain.out"), HasSubstr("captain: stopped"));
}

// Names in meta may hold quotes and backslashes (they only may not hold '/' or control
// characters): `yoke fleet decisions --json` still prints one valid JSON object per line.
TEST_F(FleetRunTest, FleetDecisionsJsonEscapesNamesFromMeta) {
  const std::string host = "we\"b\\1";
  Decision d;
  d.set_service("hello");
  d.set_host(host);
  d.set_from_version("1.0.0");
  d.set_to_version("2.0.0");
  d.set_verdict(Verdict::REJECT);
  d.set_time("2026-11-30T10:00:00Z");
  ASSERT_TRUE(Remote()->Commit({{meta::DecisionsDir("hello", "prod", host, "hello") +
                                     "/20261130T100000Z-1.0.0-to-2.0.0.txtpb",
                                 *PrintTextRecord(d)}},
                               "a decision", {"op", "op@example.com"}));
  auto out = real_[0]->Cli(
      {"fleet", "decisions", "--repo", remote_.string(), "--project", "hello", "--json"});
  ASSERT_EQ(out.code, 0) << out.output;
  const std::string line = out.output.substr(out.output.rfind("{\"id\""));
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  EXPECT_EQ(parsed.at("path").as_string(), meta::DecisionsDir("hello", "prod", host, "hello") +
                                               "/20261130T100000Z-1.0.0-to-2.0.0.txtpb");
  EXPECT_EQ(parsed.at("decision").at("host").as_string(), host);
}

}  // namespace
}  // namespace yoke::testing
