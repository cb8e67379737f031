// Meta with real processes: releases and channel moves made with `yoke meta` in a bare remote
// (over file://) drive a running `yoke run`, whose decisions come back as commits in the
// remote. Each test bounds its waits and stops what it starts by pid.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "base-layout/text_record.h"
#include "core/record_text.h"
#include "meta/digest.h"
#include "meta/git_store.h"
#include "meta/layout.h"
#include "meta/records.h"
#include "proto/yoke/records.pb.h"
#include "proto/yoke/status.pb.h"
#include "tests/fakes/http_client.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// /status read through its schema; a document that does not read fails the test. An empty
// role is left out of the document: has_testing() is false.
StatusReport ReadStatus(const std::string& status_json) {
  StatusReport report;
  Status parsed = ParseJsonRecord("/status", status_json, &report);
  EXPECT_TRUE(parsed) << parsed.error().message() << "\n" << status_json;
  return report;
}

const char* kJudge =
    "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 auto_promote_major: true }\n";

class MetaRunTest : public ::testing::Test {
 protected:
  explicit MetaRunTest(const std::string& meta_extra = "poll_interval_s: 1")
      : remote_(dir_.path() / "remote.git"),
        yoke_(std::string(kJudge) + "meta { url: \"file://" + remote_.string() +
              "\" host: \"h1\" " + meta_extra + " }\n") {}

  void SetUp() override {
    auto init = yoke_.Cli({"meta", "init", "--bare", remote_.string()});
    ASSERT_EQ(init.code, 0) << init.output;
  }

  // Builds an artifact for `version` (a script running the fixture with `flags`) and releases it.
  void Release(const std::string& version, const std::string& flags = "") {
    fs::path artifact = dir_.path() / "builds" / ("hello-" + version + ".sh");
    fs::create_directories(artifact.parent_path());
    WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\" " + flags + "\n");
    fs::permissions(artifact, fs::perms::owner_all);
    auto added = yoke_.Cli({"meta", "release", "add", "--repo", remote_.string(), "--project",
                            "hello", "--version", version, "--artifact", artifact.string(),
                            "--source", "git@example.com:team/hello.git=" + Githash(version)});
    ASSERT_EQ(added.code, 0) << added.output;
  }

  void Channel(const std::string& version) {
    auto set = yoke_.Cli({"meta", "channel", "set", "--repo", remote_.string(), "--project",
                          "hello", "--version", version, "--flag", "greeting=hi"});
    ASSERT_EQ(set.code, 0) << set.output;
  }

  std::unique_ptr<meta::GitStore> Remote() {
    auto store = meta::GitStore::Open(remote_.string(), "main");
    EXPECT_TRUE(store);
    return std::move(*store);
  }

  // This host's decisions in the remote, by (verdict, to_version).
  std::vector<Decision> RemoteDecisions() {
    auto remote = Remote();
    auto entries = meta::ReadDecisions(*remote, meta::DecisionsDir("hello", "prod", "h1", "hello"));
    std::vector<Decision> out;
    if (entries) {
      for (auto& e : entries->entries) out.push_back(e.decision);
    }
    return out;
  }

  int CommitsMentioning(const std::string& text) {
    auto log = Remote()->Log(100000);
    int n = 0;
    for (const auto& c : *log) n += c.message.find(text) != std::string::npos;
    return n;
  }

  std::string Status() { return HttpGet(yoke_.admin_port(), "/status").body; }

  // A 40-hex githash that tells releases apart ("1.0.0" -> "abc100...").
  static std::string Githash(const std::string& version) {
    std::string hash = "abc";
    for (char c : version) {
      if (c != '.') hash += c;
    }
    return hash + std::string(40 - hash.size(), '0');
  }

  TempDir dir_;
  fs::path remote_;
  YokeHarness yoke_;
};

// A release and a channel move get a following yoke to run v1, then test and promote v2; the
// decision and the new host status arrive in the remote's history, and the instances get the
// release's provenance and the channel's flags in their environment.
TEST_F(MetaRunTest, FollowsTheChannelToTestAndPromote) {
  Release("1.0.0");
  Channel("1.0.0");
  yoke_.StartYoke();
  auto running = yoke_.WaitForRole("running", "1.0.0", 1, 20s);
  ASSERT_TRUE(running) << yoke_.Log();
  EXPECT_EQ(running->env().at("YOKE_CHANNEL"), "stable");
  EXPECT_EQ(running->env().at("YOKE_SOURCE_HELLO"), Githash("1.0.0"));
  EXPECT_EQ(running->env().at("YOKE_FLAG_GREETING"), "hi");

  LoadGenerator load(yoke_.proxy_port(), {"/version", "/items", "/orders/17"});
  Release("2.0.0");
  Channel("2.0.0");
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& d : RemoteDecisions()) {
          if (d.to_version() == "2.0.0" && d.verdict() == Verdict::PROMOTE) return true;
        }
        return false;
      },
      60s))
      << yoke_.Log();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto status =
            meta::Read<HostStatus>(*Remote(), meta::StatusPath("hello", "prod", "h1", "hello"));
        return status && *status && (*status)->running() == "2.0.0";
      },
      30s))
      << yoke_.Log();
  load.Stop();
  EXPECT_EQ(CommitsMentioning("hello on h1: promote 2.0.0 (running 1.0.0, by judge)"), 1);
  auto log = yoke_.Cli({"meta", "log", "--repo", remote_.string(), "--host", "h1"});
  EXPECT_EQ(log.code, 0);
  EXPECT_NE(log.output.find("hello on h1"), std::string::npos) << log.output;
  EXPECT_NE(log.output.find("PROMOTE  1.0.0 -> 2.0.0"), std::string::npos) << log.output;
}

// A bad service record is reported with its path and line, and the host keeps running what it
// runs (the service record is part of the definition: issue 16); an artifact that does not
// match its release's sha256 starts nothing, and says so in the log, /status and the host
// status in meta.
TEST_F(MetaRunTest, SkipsBadRecordsAndStartsNothingOnAShaMismatch) {
  Release("1.0.0");
  Channel("1.0.0");
  yoke_.StartYoke();
  ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0", 1, 20s)) << yoke_.Log();
  ASSERT_TRUE(
      Remote()->Commit({{"hello/prod/services/hello.txtpb", "judge {\n  min_window_s: soon\n}\n"}},
                       "a bad policy", {"op", "op@example.com"}));
  EXPECT_TRUE(yoke_.WaitForLog("hello/prod/services/hello.txtpb:2:")) << yoke_.Log();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Status().find("\"definition_error\":\"hello/prod/services/hello.txtpb:2:") !=
               std::string::npos;
      },
      10s))
      << Status();

  auto validate = yoke_.Cli({"meta", "validate", "--repo", remote_.string()});
  EXPECT_EQ(validate.code, 1);
  EXPECT_NE(validate.output.find("hello/prod/services/hello.txtpb:2:"), std::string::npos)
      << validate.output;

  // Mended, the host follows the channel again.
  ASSERT_TRUE(Remote()->Commit({{"hello/prod/services/hello.txtpb", "judge { min_window_s: 2 }\n"}},
                               "the policy mended", {"op", "op@example.com"}));
  // A release whose sha256 is wrong.
  fs::path artifact = dir_.path() / "builds" / "hello-2.0.0.sh";
  WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\"\n");
  auto digest = meta::DigestFile(artifact);
  ASSERT_TRUE(digest);
  ASSERT_TRUE(Remote()->Commit(
      {{"hello/releases/2.0.0.txtpb", "version: \"2.0.0\"\nartifact { uri: \"" + artifact.string() +
                                          "\" sha256: \"" + std::string(64, 'f') +
                                          "\" size: " + std::to_string(digest->size) + " }\n"}},
      "release 2.0.0 with a wrong sha256", {"op", "op@example.com"}));
  Channel("2.0.0");
  ASSERT_TRUE(yoke_.WaitForLog("release 2.0.0 not started")) << yoke_.Log();
  ASSERT_TRUE(
      WaitUntil([&] { return Status().find("\"artifact_failures\":1") != std::string::npos; }, 10s))
      << Status();
  EXPECT_FALSE(ReadStatus(Status()).has_testing()) << Status();
  EXPECT_FALSE(fs::exists(yoke_.base() / "versions" / "2.0.0"));
  EXPECT_FALSE(fs::exists(yoke_.base() / "hello-2.0.0.sh"));
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto status =
            meta::Read<HostStatus>(*Remote(), meta::StatusPath("hello", "prod", "h1", "hello"));
        return status && *status && (*status)->error().find("sha256") != std::string::npos;
      },
      20s));
}

// A yoke killed with SIGKILL after committing a decision but before pushing it (the remote was
// away) pushes it after its restart, once.
TEST_F(MetaRunTest, KillBetweenCommitAndPushLosesNothing) {
  Release("1.0.0");
  Channel("1.0.0");
  yoke_.StartYoke();
  ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0", 1, 20s)) << yoke_.Log();
  ASSERT_TRUE(WaitUntil([&] { return Status().find("\"queued\":0") != std::string::npos; }, 20s));

  fs::path away = dir_.path() / "away.git";
  fs::rename(remote_, away);
  auto pin = yoke_.Cli(
      {"pin", "1.0.0", "--reason", "incident 7", "--config", yoke_.config_path().string()});
  ASSERT_EQ(pin.code, 0) << pin.output;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = Status();
        return s.find("\"queued\":0") == std::string::npos &&
               s.find("\"queued\":") != std::string::npos;
      },
      20s))
      << Status();
  yoke_.KillYoke();

  fs::rename(away, remote_);
  yoke_.StartYoke();
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& d : RemoteDecisions()) {
          if (d.verdict() == Verdict::PIN) return true;
        }
        return false;
      },
      30s))
      << yoke_.Log();
  ASSERT_TRUE(WaitUntil([&] { return Status().find("\"queued\":0") != std::string::npos; }, 20s));
  int pins = 0;
  for (const auto& d : RemoteDecisions()) pins += d.verdict() == Verdict::PIN;
  EXPECT_EQ(pins, 1);
  EXPECT_EQ(CommitsMentioning(": pin 1.0.0"), 1);
}

// With fetching hourly, only the webhook can explain yoke noticing a new release at once; a
// webhook with a bad signature gets 401 and fetches nothing.
TEST(MetaWebhook, BadSignatureIsRefusedAndAGoodOneFetches) {
  TempDir dir;
  fs::path remote = dir.path() / "remote.git";
  fs::path secret = dir.path() / "webhook.secret";
  WriteAll(secret, "s3cret\n");
  YokeHarness yoke(std::string(kJudge) + "meta { url: \"file://" + remote.string() +
                   "\" host: \"h1\" poll_interval_s: 3600 webhook_secret_file: \"" +
                   secret.string() + "\" }\n");
  auto run = [&](std::vector<std::string> args) {
    auto r = yoke.Cli(args);
    EXPECT_EQ(r.code, 0) << r.output;
  };
  run({"meta", "init", "--bare", remote.string()});
  auto release = [&](const std::string& version) {
    fs::path artifact = dir.path() / ("hello-" + version + ".sh");
    WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\"\n");
    fs::permissions(artifact, fs::perms::owner_all);
    run({"meta", "release", "add", "--repo", remote.string(), "--project", "hello", "--version",
         version, "--artifact", artifact.string(), "--source",
         "hello.git=0123456789abcdef0123456789abcdef01234567"});
    run({"meta", "channel", "set", "--repo", remote.string(), "--project", "hello", "--version",
         version});
  };
  release("1.0.0");
  yoke.StartYoke();  // the first fetch is at start
  ASSERT_TRUE(yoke.WaitForRole("running", "1.0.0", 1, 20s)) << yoke.Log();
  release("2.0.0");

  auto fetches = [&] {
    std::string s = HttpGet(yoke.admin_port(), "/status").body;
    auto at = s.find("\"fetches\":");
    return at == std::string::npos ? -1 : std::atoi(s.c_str() + at + 10);
  };
  int before = fetches();
  const std::string body = R"({"ref":"refs/heads/main"})";
  {
    HttpClient client(yoke.admin_port());
    auto res = client.Request(http::verb::post, "/webhook", body,
                              {{"X-Hub-Signature-256", "sha256=" + std::string(64, '0')}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 401);
    auto unsigned_res = client.Request(http::verb::post, "/webhook", body);
    ASSERT_TRUE(unsigned_res);
    EXPECT_EQ(unsigned_res->result_int(), 401);
  }
  EXPECT_EQ(fetches(), before);
  EXPECT_FALSE(ReadStatus(HttpGet(yoke.admin_port(), "/status").body).has_testing());

  HttpClient client(yoke.admin_port());
  auto res =
      client.Request(http::verb::post, "/webhook", body,
                     {{"X-Hub-Signature-256", "sha256=" + meta::HmacSha256Hex("s3cret", body)}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 202);
  EXPECT_TRUE(yoke.WaitForRole("testing", "2.0.0", 1, 20s)) << yoke.Log();
  EXPECT_GT(fetches(), before);
}

}  // namespace
}  // namespace yoke::testing

namespace yoke::testing {
namespace {

// Two real supervisors, stand-ins for two hosts, follow one remote. Each makes 50 decisions
// (pin and unpin by hand, as fast as the admin API takes them) at the same time as the other;
// all 100 land in the remote's history, each once.
TEST(MetaTwoHosts, FiftyDecisionsEachAllLandOnce) {
  TempDir dir;
  fs::path remote = dir.path() / "remote.git";
  auto config = [&](const std::string& host) {
    return std::string(kJudge) + "meta { url: \"file://" + remote.string() + "\" host: \"" + host +
           "\" poll_interval_s: 1 }\n";
  };
  YokeHarness h1(config("h1")), h2(config("h2"));
  ASSERT_EQ(h1.Cli({"meta", "init", "--bare", remote.string()}).code, 0);
  fs::path artifact = dir.path() / "hello-1.0.0.sh";
  WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\"\n");
  ASSERT_EQ(h1.Cli({"meta", "release", "add", "--repo", remote.string(), "--project", "hello",
                    "--version", "1.0.0", "--artifact", artifact.string(), "--source",
                    "hello.git=0123456789abcdef0123456789abcdef01234567"})
                .code,
            0);
  ASSERT_EQ(h1.Cli({"meta", "channel", "set", "--repo", remote.string(), "--project", "hello",
                    "--version", "1.0.0"})
                .code,
            0);
  h1.StartYoke();
  h2.StartYoke();
  ASSERT_TRUE(h1.WaitForRole("running", "1.0.0", 1, 20s)) << h1.Log();
  ASSERT_TRUE(h2.WaitForRole("running", "1.0.0", 1, 20s)) << h2.Log();

  auto decide = [](YokeHarness* yoke, std::atomic<int>* done) {
    std::string token = ReadAll(yoke->base() / "state" / "admin.token");
    token.erase(token.find_last_not_of("\n ") + 1);
    HttpClient client(yoke->admin_port());
    for (int i = 0; i < 50; ++i) {
      const char* action = i % 2 == 0 ? "/pin" : "/unpin";
      auto res =
          client.Request(http::verb::post, action,
                         R"({"reason":"drill )" + std::to_string(i) + R"(","version":"1.0.0"})",
                         {{"Authorization", "Bearer " + token}}, 15s);
      if (res && res->result_int() == 200) ++*done;
    }
  };
  std::atomic<int> done1{0}, done2{0};
  std::thread t1(decide, &h1, &done1), t2(decide, &h2, &done2);
  t1.join();
  t2.join();
  ASSERT_EQ(done1, 50);
  ASSERT_EQ(done2, 50);

  auto pins = [&](const std::string& host) {
    auto store = meta::GitStore::Open(remote.string(), "main");
    auto entries = meta::ReadDecisions(**store, meta::DecisionsDir("hello", "prod", host, "hello"));
    int n = 0;
    for (const auto& e : entries->entries) n += e.decision.verdict() == Verdict::PIN;
    return n;
  };
  auto commits = [&](const std::string& host) {
    auto store = meta::GitStore::Open(remote.string(), "main");
    auto log = (*store)->Log(100000);
    int n = 0;
    for (const auto& c : *log) n += c.message.starts_with("hello on " + host + ": pin 1.0.0");
    return n;
  };
  ASSERT_TRUE(WaitUntil([&] { return pins("h1") == 50 && pins("h2") == 50; }, 60s))
      << pins("h1") << " and " << pins("h2") << " pins in the remote\n"
      << h1.Log() << h2.Log();
  EXPECT_EQ(commits("h1"), 50);
  EXPECT_EQ(commits("h2"), 50);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return HttpGet(h1.admin_port(), "/status").body.find("\"queued\":0") != std::string::npos &&
               HttpGet(h2.admin_port(), "/status").body.find("\"queued\":0") != std::string::npos;
      },
      30s));
}

}  // namespace
}  // namespace yoke::testing
