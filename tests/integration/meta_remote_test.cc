// Meta against real git servers, with real `yoke run` processes (labelled `remote`): each test
// runs once over ssh (sshd + git-shell, key + known_hosts) and once over https (nginx + fcgiwrap
// + git http-backend, token + private CA), both started here on 127.0.0.1 (tests/fakes/
// git_servers.h). Releases and channel moves are made with `yoke meta` in the server's own
// repository on disk, as a CI job on the git host would. Every wait is bounded.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "base-layout/text_record.h"
#include "core/record_text.h"
#include "core/rollout.h"
#include "meta/digest.h"
#include "meta/git_store.h"
#include "meta/layout.h"
#include "meta/records.h"
#include "proto/yoke/records.pb.h"
#include "proto/yoke/status.pb.h"
#include "tests/fakes/git_servers.h"
#include "tests/fakes/http_client.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* kJudge =
    "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 auto_promote_major: true }\n";

MetaStatus ReadMeta(uint16_t admin_port) {
  StatusReport report;
  auto body = HttpGet(admin_port, "/status").body;
  if (!ParseJsonRecord("/status", body, &report)) return MetaStatus();
  return report.meta();
}

std::string Githash(char digit) { return std::string(40, digit); }

class MetaRemoteTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool ssh() const { return GetParam() == "ssh"; }

  void SetUp() override {
    if (ssh()) {
      if (auto missing = SshGitServer::Unavailable()) GTEST_SKIP() << *missing;
      ssh_ = std::make_unique<SshGitServer>(dir_.path());
      ASSERT_TRUE(ssh_->Start()) << ssh_->log();
      repo_ = dir_.path() / "srv" / "meta.git";
      url_ = ssh_->Url(repo_);
      settings_ = "ssh_key_file: \"" + ssh_->key_file().string() + "\" known_hosts_file: \"" +
                  ssh_->known_hosts().string() + "\"";
      cli_auth_ = {"--ssh-key-file", ssh_->key_file().string(), "--known-hosts-file",
                   ssh_->known_hosts().string()};
    } else {
      if (auto missing = HttpsGitServer::Unavailable()) GTEST_SKIP() << *missing;
      https_ = std::make_unique<HttpsGitServer>(dir_.path());
      ASSERT_TRUE(https_->Start()) << https_->log();
      repo_ = https_->repos() / "meta.git";
      url_ = https_->Url("meta.git");
      settings_ = "https_token_file: \"" + https_->token_file().string() + "\" ca_file: \"" +
                  https_->ca_file().string() + "\"";
      cli_auth_ = {"--https-token-file", https_->token_file().string(), "--ca-file",
                   https_->ca_file().string()};
    }
    ASSERT_TRUE(InitBareRepo(repo_));
  }

  std::unique_ptr<YokeHarness> Host(const std::string& host,
                                    const std::string& extra = "poll_interval_s: 1") {
    return std::make_unique<YokeHarness>(std::string(kJudge) + "meta { url: \"" + url_ +
                                         "\" host: \"" + host + "\" timeout_s: 30 " + extra + " " +
                                         settings_ + " }\n");
  }

  void Release(YokeHarness& yoke, const std::string& version, char digit) {
    fs::path artifact = dir_.path() / "builds" / ("hello-" + version + ".sh");
    WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\"\n");
    fs::permissions(artifact, fs::perms::owner_all);
    auto added = yoke.Cli({"meta", "release", "add", "--repo", repo_.string(), "--project", "hello",
                           "--version", version, "--artifact", artifact.string(), "--source",
                           "git@example.com:team/hello.git=" + Githash(digit)});
    ASSERT_EQ(added.code, 0) << added.output;
  }

  void Channel(YokeHarness& yoke, const std::string& version) {
    auto set = yoke.Cli({"meta", "channel", "set", "--repo", repo_.string(), "--project", "hello",
                         "--version", version});
    ASSERT_EQ(set.code, 0) << set.output;
  }

  std::unique_ptr<meta::GitStore> Server() {
    auto store = meta::GitStore::Open(repo_.string(), "main");
    EXPECT_TRUE(store);
    return std::move(*store);
  }

  std::string ServerLog() { return ssh_ ? ssh_->log() : https_->log(); }

  TempDir dir_;
  std::unique_ptr<SshGitServer> ssh_;
  std::unique_ptr<HttpsGitServer> https_;
  fs::path repo_;
  std::string url_;
  std::string settings_;
  std::vector<std::string> cli_auth_;  // the same credentials as `yoke meta` flags
};

// Follow → test → promote → decision pushed, through the real server; the host status and the
// decision in meta name the meta commit acted on and the release's sources.
TEST_P(MetaRemoteTest, FollowsTestsPromotesAndWritesBack) {
  auto yoke = Host("h1");
  Release(*yoke, "1.0.0", '1');
  Channel(*yoke, "1.0.0");
  yoke->StartYoke();
  ASSERT_TRUE(yoke->WaitForRole("running", "1.0.0", 1, 30s)) << yoke->Log() << ServerLog();

  LoadGenerator load(yoke->proxy_port(), {"/version", "/items"});
  Release(*yoke, "2.0.0", '2');
  Channel(*yoke, "2.0.0");
  std::optional<Decision> promoted;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto entries =
            meta::ReadDecisions(*Server(), meta::DecisionsDir("hello", "prod", "h1", "hello"));
        if (!entries) return false;
        for (const auto& e : entries->entries) {
          if (e.decision.to_version() == "2.0.0" && e.decision.verdict() == Verdict::PROMOTE) {
            promoted = e.decision;
            return true;
          }
        }
        return false;
      },
      90s))
      << yoke->Log() << ServerLog();
  load.Stop();
  EXPECT_FALSE(promoted->meta_commit().empty());
  ASSERT_EQ(promoted->sources_size(), 1);
  EXPECT_EQ(promoted->sources(0).githash(), Githash('2'));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto status =
            meta::Read<HostStatus>(*Server(), meta::StatusPath("hello", "prod", "h1", "hello"));
        return status && *status && (*status)->running() == "2.0.0" &&
               !(*status)->meta_commit().empty() && (*status)->channel_release() == "2.0.0";
      },
      30s))
      << yoke->Log();
  auto status = meta::Read<HostStatus>(*Server(), meta::StatusPath("hello", "prod", "h1", "hello"));
  ASSERT_EQ((*status)->sources_size(), 1);
  EXPECT_EQ((*status)->sources(0).githash(), Githash('2'));
  MetaStatus meta = ReadMeta(yoke->admin_port());
  EXPECT_TRUE(meta.remote_ok());
  // A timeout is what a loaded machine may give (an ssh handshake is the slowest step); a refused
  // credential, host key or certificate would be a bug.
  EXPECT_EQ(meta.credential_failures() + meta.host_key_failures() + meta.certificate_failures(), 0)
      << "timeouts: " << meta.timeouts();
}

// An operator force-pushes the server's branch back to before a channel move while three hosts
// follow it: no host pushes the retracted move back, each counts the rewrite, and their own
// status is written again on the new tip.
TEST_P(MetaRemoteTest, ARetractedChannelMoveStaysRetractedWithThreeHosts) {
  std::vector<std::unique_ptr<YokeHarness>> hosts;
  for (const char* name : {"h1", "h2", "h3"}) hosts.push_back(Host(name));
  Release(*hosts[0], "1.0.0", '1');
  Release(*hosts[0], "2.0.0", '2');
  Channel(*hosts[0], "1.0.0");
  for (auto& h : hosts) h->StartYoke();
  // Three supervisors start at once: on a loaded machine (the ASan build) the first ssh
  // rounds take a while.
  for (auto& h : hosts) ASSERT_TRUE(h->WaitForRole("running", "1.0.0", 1, 90s)) << h->Log();
  auto settled = [&] {
    for (auto& h : hosts) {
      MetaStatus m = ReadMeta(h->admin_port());
      if (m.queued() != 0 || !m.remote_ok()) return false;
    }
    return true;
  };
  auto unsettled = [&] {
    std::string out;
    for (auto& h : hosts) {
      MetaStatus m = ReadMeta(h->admin_port());
      out += fmt::format("host: queued {} remote_ok {} last_error {}\n", m.queued(), m.remote_ok(),
                         m.last_error());
    }
    return out + ServerLog();
  };
  ASSERT_TRUE(WaitUntil(settled, 30s)) << unsettled();
  const std::string before_move = *Server()->Tip();

  Channel(*hosts[0], "2.0.0");
  for (auto& h : hosts) {
    ASSERT_TRUE(
        WaitUntil([&] { return ReadMeta(h->admin_port()).channel_release() == "2.0.0"; }, 30s))
        << h->Log();
  }
  ASSERT_TRUE(WaitUntil(settled, 30s)) << unsettled();

  // The force-push: the branch goes back to the commit before the move (and before every host
  // commit since).
  ASSERT_EQ(RunProgram({"/usr/bin/git", "--git-dir", repo_.string(), "update-ref",
                        "refs/heads/main", before_move},
                       dir_.path()),
            0);
  for (auto& h : hosts) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          MetaStatus m = ReadMeta(h->admin_port());
          return m.rewrites() >= 1 && m.queued() == 0;
        },
        30s))
        << h->Log();
    EXPECT_TRUE(h->WaitForLog("the remote's history was rewritten")) << h->Log();
  }
  // Another fetch-and-push round of every host after all of them saw the rewrite (ssh
  // rounds take seconds each on a loaded machine: the bound is generous).
  std::vector<double> fetches;
  for (auto& h : hosts) fetches.push_back(ReadMeta(h->admin_port()).fetches());
  for (size_t i = 0; i < hosts.size(); ++i) {
    ASSERT_TRUE(WaitUntil(
        [&] {
          MetaStatus m = ReadMeta(hosts[i]->admin_port());
          return m.fetches() >= fetches[i] + 2 && m.queued() == 0;
        },
        90s))
        << hosts[i]->Log();
  }
  auto channel = meta::Read<yoke::Channel>(*Server(), meta::ChannelPath("hello", "prod", "stable"));
  ASSERT_TRUE(channel && *channel);
  EXPECT_EQ((*channel)->release(), "1.0.0");
  // Everything after the rewound tip is a host's own commit.
  auto log = Server()->Log(1000);
  ASSERT_TRUE(log);
  for (const auto& c : *log) {
    if (c.id == before_move) break;
    EXPECT_TRUE(c.author.starts_with("yoke h")) << c.author << ": " << c.message;
  }
  std::string metrics = HttpGet(hosts[0]->admin_port(), "/metrics").body;
  EXPECT_NE(metrics.find("yoke_meta_rewrites_total 1"), std::string::npos) << metrics;
}

// The server goes away while a host decides (a pin): the commit waits in the queue, /status and
// /metrics say the remote is down, the supervisor keeps answering; once the server is back the
// decision lands, once.
TEST_P(MetaRemoteTest, RemoteDownThenBack) {
  if (!ssh()) GTEST_SKIP() << "one transport is enough to stop and start (sshd restarts in place)";
  auto yoke = Host("h1");
  Release(*yoke, "1.0.0", '1');
  Channel(*yoke, "1.0.0");
  yoke->StartYoke();
  ASSERT_TRUE(yoke->WaitForRole("running", "1.0.0", 1, 30s)) << yoke->Log();
  ASSERT_TRUE(WaitUntil([&] { return ReadMeta(yoke->admin_port()).queued() == 0; }, 30s));
  ssh_->Stop();
  auto pin = yoke->Cli(
      {"pin", "1.0.0", "--reason", "incident 9", "--config", yoke->config_path().string()});
  ASSERT_EQ(pin.code, 0) << pin.output;
  ASSERT_TRUE(WaitUntil(
      [&] {
        MetaStatus m = ReadMeta(yoke->admin_port());
        return !m.remote_ok() && m.queued() > 0;
      },
      30s))
      << yoke->Log();
  EXPECT_NE(HttpGet(yoke->admin_port(), "/metrics").body.find("yoke_meta_remote_up 0"),
            std::string::npos);
  ASSERT_TRUE(ssh_->Restart()) << ssh_->log();
  ASSERT_TRUE(WaitUntil(
      [&] {
        MetaStatus m = ReadMeta(yoke->admin_port());
        return m.remote_ok() && m.queued() == 0;
      },
      60s))
      << yoke->Log();
  auto entries = meta::ReadDecisions(*Server(), meta::DecisionsDir("hello", "prod", "h1", "hello"));
  ASSERT_TRUE(entries);
  int pins = 0;
  for (const auto& e : entries->entries) pins += e.decision.verdict() == Verdict::PIN;
  EXPECT_EQ(pins, 1);
  EXPECT_TRUE(yoke->WaitForLog("meta: the remote answers again"));
}

// An operator releases from a laptop straight against the remote (`yoke meta ... --repo URL`
// with the same credentials), then answers "which release and channel hold this binary" from
// the binary's sha256 and from a source githash.
TEST_P(MetaRemoteTest, OperatorReleasesAgainstTheRemoteAndFindsTheBinary) {
  // The CLI keeps its cached clone under $XDG_CACHE_HOME; the yoke children inherit it.
  ::setenv("XDG_CACHE_HOME", (dir_.path() / "cache").c_str(), 1);
  YokeHarness cli;
  fs::path artifact = dir_.path() / "builds" / "hello-1.0.0.sh";
  WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\"\n");
  auto with_auth = [&](std::vector<std::string> args) {
    args.insert(args.end(), cli_auth_.begin(), cli_auth_.end());
    return cli.Cli(args);
  };
  auto refused = with_auth({"meta", "release", "add", "--repo", url_, "--project", "hello",
                            "--version", "1.0.0", "--artifact", artifact.string()});
  EXPECT_EQ(refused.code, 2) << refused.output;
  EXPECT_NE(refused.output.find("--source repo=githash is required"), std::string::npos)
      << refused.output;
  auto added = with_auth({"meta", "release", "add", "--repo", url_, "--project", "hello",
                          "--version", "1.0.0", "--artifact", artifact.string(), "--source",
                          "git@example.com:team/hello.git=" + Githash('7')});
  ASSERT_EQ(added.code, 0) << added.output << ServerLog();
  EXPECT_NE(added.output.find("pushed to " + url_), std::string::npos) << added.output;
  auto set = with_auth(
      {"meta", "channel", "set", "--repo", url_, "--project", "hello", "--version", "1.0.0"});
  ASSERT_EQ(set.code, 0) << set.output;
  auto channel = meta::Read<yoke::Channel>(*Server(), meta::ChannelPath("hello", "prod", "stable"));
  ASSERT_TRUE(channel && *channel);
  EXPECT_EQ((*channel)->release(), "1.0.0");

  auto release = meta::Read<yoke::Release>(*Server(), meta::ReleasePath("hello", "1.0.0"));
  ASSERT_TRUE(release && *release);
  for (const std::string& key : {std::string("--sha256"), std::string("--githash")}) {
    const std::string value =
        key == "--sha256" ? (*release)->artifact().sha256() : Githash('7').substr(0, 10);
    auto found = with_auth({"meta", "find", "--repo", url_, key, value});
    ASSERT_EQ(found.code, 0) << found.output;
    EXPECT_NE(found.output.find("release hello 1.0.0"), std::string::npos) << found.output;
    EXPECT_NE(found.output.find("channel hello/prod/channels/stable.txtpb -> 1.0.0"),
              std::string::npos)
        << found.output;
  }
  auto none = with_auth({"meta", "find", "--repo", url_, "--sha256", std::string(64, '0')});
  EXPECT_EQ(none.code, 1) << none.output;
}

// The captain and the fleet view straight against the remote (`--repo URL`, the same
// credentials as `yoke meta`): two hosts' records are on the server, the canary h1 promoted
// 2.0.0; one `yoke captain step` opens the next stage and pushes that move, and `yoke fleet
// status` lists both hosts.
TEST_P(MetaRemoteTest, CaptainStepsAndFleetViewOverTheRemote) {
  ::setenv("XDG_CACHE_HOME", (dir_.path() / "cache").c_str(), 1);
  YokeHarness cli;
  Release(cli, "1.0.0", '1');
  Release(cli, "2.0.0", '2');
  Channel(cli, "2.0.0");
  Rollout plan;
  auto* canary = plan.mutable_plan()->add_stages();
  canary->set_name("canary");
  canary->add_hosts("h1");
  auto* all = plan.mutable_plan()->add_stages();
  all->set_name("all");
  all->set_percent(100);
  plan.mutable_state()->set_release("2.0.0");
  auto* open = plan.mutable_state()->add_stages();
  open->set_name("canary");
  open->set_opened("2026-11-30T00:00:00Z");
  open->add_hosts("h1");
  auto* next = plan.mutable_state()->add_stages();
  next->set_name("all");
  next->add_hosts("h2");
  std::vector<meta::FileChange> records = {
      {meta::RolloutPath("hello", "prod", "stable"), *PrintTextRecord(plan)}};
  for (const std::string host : {"h1", "h2"}) {
    HostStatus status;
    status.set_host(host);
    status.set_service("hello");
    status.set_channel("stable");
    status.set_running(host == "h1" ? "2.0.0" : "1.0.0");
    status.set_seen(FormatRfc3339(std::chrono::system_clock::now()));
    records.push_back({meta::StatusPath("hello", "prod", host, "hello"), *PrintTextRecord(status)});
  }
  Decision promoted;
  promoted.set_service("hello");
  promoted.set_host("h1");
  promoted.set_from_version("1.0.0");
  promoted.set_to_version("2.0.0");
  promoted.set_verdict(Verdict::PROMOTE);
  promoted.set_time("2026-11-30T00:10:00Z");
  records.push_back({meta::DecisionsDir("hello", "prod", "h1", "hello") +
                         "/20261130T001000Z-1.0.0-to-2.0.0.txtpb",
                     *PrintTextRecord(promoted)});
  ASSERT_TRUE(Server()->Commit(records, "two hosts", {"op", "op@example.com"}));

  auto with_auth = [&](std::vector<std::string> args) {
    args.insert(args.end(), cli_auth_.begin(), cli_auth_.end());
    return cli.Cli(args);
  };
  auto step = with_auth({"captain", "step", "--repo", url_, "--project", "hello"});
  ASSERT_EQ(step.code, 0) << step.output << ServerLog();
  EXPECT_NE(step.output.find("rollout stable 2.0.0: stage 2/2 \"all\" open (h2)"),
            std::string::npos)
      << step.output;
  auto moved = meta::Read<Rollout>(*Server(), meta::RolloutPath("hello", "prod", "stable"));
  ASSERT_TRUE(moved && *moved);
  ASSERT_EQ((*moved)->state().stages_size(), 2);
  EXPECT_FALSE((*moved)->state().stages(1).opened().empty()) << "the move was not pushed";
  auto log = Server()->Log(1);
  ASSERT_TRUE(log && !log->empty());
  EXPECT_EQ(log->front().author, "captain");

  auto status = with_auth({"fleet", "status", "--repo", url_, "--project", "hello", "--json"});
  ASSERT_EQ(status.code, 0) << status.output;
  FleetReport report;
  const std::string json = status.output.substr(status.output.rfind("{\"project\""));
  ASSERT_TRUE(ParseJsonRecord("fleet status", json, &report)) << status.output;
  ASSERT_EQ(report.members_size(), 2) << status.output;
  EXPECT_EQ(report.members(0).host(), "h1");
  EXPECT_EQ(report.members(1).running(), "1.0.0");
}

// With hourly fetches, a signed webhook makes the host fetch from the real server at once
// (push off: a push is followed by a fetch, which would find the move without the webhook).
TEST_P(MetaRemoteTest, WebhookThenFetch) {
  const fs::path secret = dir_.path() / "webhook.secret";
  WriteAll(secret, "s3cret\n");
  auto yoke = Host(
      "h1", "push: false poll_interval_s: 3600 webhook_secret_file: \"" + secret.string() + "\"");
  Release(*yoke, "1.0.0", '1');
  Channel(*yoke, "1.0.0");
  yoke->StartYoke();  // the first fetch is at start
  ASSERT_TRUE(yoke->WaitForRole("running", "1.0.0", 1, 30s)) << yoke->Log();
  Release(*yoke, "2.0.0", '2');
  Channel(*yoke, "2.0.0");
  const double before = ReadMeta(yoke->admin_port()).fetches();
  const std::string body = R"({"ref":"refs/heads/main"})";
  HttpClient client(yoke->admin_port());
  auto res =
      client.Request(http::verb::post, "/webhook", body,
                     {{"X-Hub-Signature-256", "sha256=" + meta::HmacSha256Hex("s3cret", body)}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 202);
  EXPECT_TRUE(yoke->WaitForRole("testing", "2.0.0", 1, 30s)) << yoke->Log();
  EXPECT_GT(ReadMeta(yoke->admin_port()).fetches(), before);
}

// A remote that accepts the connection and never says a word: `yoke captain step` and `yoke
// fleet status` over it give up at --timeout-s with the remote named, exit 1, and leave nothing
// running.
TEST(CaptainRemoteStallTest, AStalledRemoteEndsAStepAtItsTimeout) {
  TempDir dir;
  ::setenv("XDG_CACHE_HOME", (dir.path() / "cache").c_str(), 1);
  SilentServer silent;
  YokeHarness cli;
  const std::string url = "https://127.0.0.1:" + std::to_string(silent.port()) + "/meta.git";
  for (const char* command : {"captain", "fleet"}) {
    std::vector<std::string> args = {
        command,       command == std::string("captain") ? "step" : "status",
        "--repo",      url,
        "--project",   "hello",
        "--timeout-s", "2"};
    const auto start = std::chrono::steady_clock::now();
    auto out = cli.Cli(args, 60s);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(out.code, 1) << out.output;
    EXPECT_LT(took, 30s) << command;
    EXPECT_NE(out.output.find("127.0.0.1:" + std::to_string(silent.port())), std::string::npos)
        << out.output;
  }
  EXPECT_GE(silent.accepted(), 2);
}

INSTANTIATE_TEST_SUITE_P(Transports, MetaRemoteTest, ::testing::Values("ssh", "https"),
                         [](const auto& info) { return info.param; });

// Each way a real remote can refuse yoke gives one clear message in the log and a metric by
// cause, meta keeps retrying, and the supervisor keeps answering its admin API meanwhile.
TEST(MetaRemoteFailures, EachCauseIsOneMessageAndAMetric) {
  if (auto missing = SshGitServer::Unavailable()) GTEST_SKIP() << *missing;
  if (auto missing = HttpsGitServer::Unavailable()) GTEST_SKIP() << *missing;
  TempDir dir;
  SshGitServer ssh(dir.path());
  ASSERT_TRUE(ssh.Start()) << ssh.log();
  HttpsGitServer https(dir.path());
  ASSERT_TRUE(https.Start()) << https.log();
  SilentServer silent;
  const fs::path ssh_repo = dir.path() / "srv" / "meta.git";
  ASSERT_TRUE(InitBareRepo(ssh_repo));
  ASSERT_TRUE(InitBareRepo(https.repos() / "meta.git"));
  struct Case {
    std::string meta;
    std::string message;
    std::string cause;
  };
  const std::vector<Case> cases = {
      {"url: \"" + ssh.Url(ssh_repo) + "\" ssh_key_file: \"" + ssh.key_file().string() +
           "\" known_hosts_file: \"" + ssh.WrongKnownHosts().string() + "\"",
       "does not match known_hosts_file", "host_key"},
      {"url: \"" + ssh.Url(ssh_repo) + "\" ssh_key_file: \"" + ssh.WrongKey().string() +
           "\" known_hosts_file: \"" + ssh.known_hosts().string() + "\"",
       "refused the key in ssh_key_file", "credentials"},
      {"url: \"" + https.Url("meta.git") + "\" https_token_file: \"" + https.WrongToken().string() +
           "\" ca_file: \"" + https.ca_file().string() + "\"",
       "refused the token in https_token_file", "credentials"},
      {"url: \"" + https.Url("meta.git") + "\" https_token_file: \"" + https.token_file().string() +
           "\" ca_file: \"" + https.WrongCa().string() + "\"",
       "is not signed by ca_file", "certificate"},
      {"url: \"https://127.0.0.1:" + std::to_string(silent.port()) + "/meta.git\" timeout_s: 2",
       "within 2 s (meta.timeout_s)", "timeout"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.cause + ": " + c.meta);
    YokeHarness yoke(std::string(kJudge) + "meta { host: \"h1\" poll_interval_s: 1 " + c.meta +
                     " }\n");
    yoke.StartYoke();
    const std::string metric = "yoke_meta_remote_failures_total{cause=\"" + c.cause + "\"} ";
    // Retried: at least two failures of this cause, while /status answers each time.
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto metrics = HttpGet(yoke.admin_port(), "/metrics", 1000ms).body;
          auto at = metrics.find(metric);
          return at != std::string::npos && std::atof(metrics.c_str() + at + metric.size()) >= 2;
        },
        40s))
        << yoke.Log();
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(HttpGet(yoke.admin_port(), "/status", 1000ms).status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    // One message per outage, not one per retry.
    std::string log = yoke.Log();
    size_t said = 0;
    for (size_t at = log.find(c.message); at != std::string::npos;
         at = log.find(c.message, at + 1)) {
      ++said;
    }
    EXPECT_EQ(said, 1u) << log;
    EXPECT_EQ(log.find("not-the-token"), std::string::npos);
    EXPECT_EQ(log.find(ReadAll(https.token_file()).substr(0, 10)), std::string::npos);
  }
}

}  // namespace
}  // namespace yoke::testing
