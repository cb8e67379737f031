// Definitions in meta with real processes and real `age` (docs/config.md, "Definitions in
// meta"): a flag, an env var and a secret each move through meta as a definition-only candidate
// (the same release, <release>+def-<digest>), mirrored, judged and promoted, with the decision
// naming the field that changed (a secret only as "changed"); a config change that breaks a
// route is rejected; a definition that cannot be resolved keeps the host running what it runs.
// Each test bounds its waits and stops what it starts by pid.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "base-layout/archive.h"
#include "core/record_text.h"
#include "meta/git_store.h"
#include "meta/layout.h"
#include "meta/records.h"
#include "platform/age.h"
#include "proto/yoke/records.pb.h"
#include "proto/yoke/status.pb.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const char* kJudge =
    "judge { min_window_s: 2 min_pairs: 150 max_window_s: 60 lost_route_min: 3 }\n";
const meta::Author kOperator{"op", "op@example.com"};
constexpr const char* kServicePath = "hello/prod/services/hello.txtpb";

std::string Identity(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path key = dir / "host.key";
  auto made = RunPiped({"age-keygen", "-o", key.string()}, "", 10s);
  EXPECT_TRUE(made && made->exit_code == 0);
  ::chmod(key.c_str(), 0600);
  return key.string();
}

class DefinitionsRunTest : public ::testing::Test {
 protected:
  DefinitionsRunTest()
      : remote_(dir_.path() / "remote.git"),
        identity_(Identity(dir_.path() / "keys")),
        yoke_(std::string(kJudge) + "meta { url: \"file://" + remote_.string() +
              "\" host: \"h1\" poll_interval_s: 1 }\nsecrets { identity_file: \"" + identity_ +
              "\" }\n") {}

  void SetUp() override {
    auto init = yoke_.Cli({"meta", "init", "--bare", remote_.string()});
    ASSERT_EQ(init.code, 0) << init.output;
    auto pub = RunPiped({"age-keygen", "-y", identity_}, "", 10s);
    ASSERT_TRUE(pub && pub->exit_code == 0);
    recipient_ = pub->out.substr(0, pub->out.find('\n'));
    // The artifact takes extra fixture flags from the instance's environment, so that a
    // definition can break a route without a new binary.
    fs::path artifact = dir_.path() / "builds" / "hello-1.0.0.sh";
    fs::create_directories(artifact.parent_path());
    WriteAll(artifact, "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\" $FIXTURE_EXTRA\n");
    fs::permissions(artifact, fs::perms::owner_all);
    auto added = yoke_.Cli({"meta", "release", "add", "--repo", remote_.string(), "--project",
                            "hello", "--version", "1.0.0", "--artifact", artifact.string(),
                            "--source", "git@example.com:team/hello.git=" + std::string(40, 'a')});
    ASSERT_EQ(added.code, 0) << added.output;
  }

  std::unique_ptr<meta::GitStore> Remote() {
    auto store = meta::GitStore::Open(remote_.string(), "main");
    EXPECT_TRUE(store);
    return std::move(*store);
  }
  void Put(const std::string& path, const std::string& text) {
    auto c = Remote()->Commit({{path, text}}, "definition: " + path, kOperator);
    ASSERT_TRUE(c) << c.error().message();
  }
  void SetSecret(const std::string& value) {
    auto run = RunPiped({YokeBinary().string(), "meta", "secret", "set", "--repo", remote_.string(),
                         "--project", "hello", "--name", "db", "--recipient", recipient_},
                        value, 30s);
    ASSERT_TRUE(run);
    ASSERT_EQ(run->exit_code, 0) << run->out << run->err;
    EXPECT_EQ(run->out.find(value), std::string::npos);
  }
  void Channel() {
    auto set = yoke_.Cli({"meta", "channel", "set", "--repo", remote_.string(), "--project",
                          "hello", "--version", "1.0.0"});
    ASSERT_EQ(set.code, 0) << set.output;
  }
  static std::string Service(const std::string& beta, const std::string& greeting,
                             const std::string& extra = "") {
    return "flags { name: \"beta\" value: \"" + beta + "\" }\n" +
           "env { key: \"GREETING\" value: \"" + greeting + "\" }\n" +
           "env { key: \"FIXTURE_EXTRA\" value: \"" + extra + "\" }\n" +
           "secrets { name: \"db\" env: \"DB_PASSWORD\" path: \"db.secret\" }\n" +
           "templates { name: \"app.conf\" source: \"templates/app.conf\" }\n";
  }
  // The first decision about a candidate no earlier decision was about.
  std::optional<Decision> NextDecision() {
    std::optional<Decision> found;
    WaitUntil(
        [&] {
          for (const Decision& d : Decisions(yoke_.base())) {
            // A decision file caught while it is written reads as an empty record: skipped.
            if (d.to_version().empty() || d.verdict() == Verdict::VERDICT_UNSPECIFIED) continue;
            if (!judged_.contains(d.to_version())) {
              found = d;
              judged_.insert(d.to_version());
              return true;
            }
          }
          return false;
        },
        60s);
    return found;
  }
  std::string Running() {
    auto link = fs::read_symlink(yoke_.base() / "running");
    return link.parent_path().parent_path().filename().string();
  }

  TempDir dir_;
  fs::path remote_;
  std::string identity_;
  YokeHarness yoke_;
  std::string recipient_;
  std::set<std::string> judged_;
};

bool Mentions(const Decision& d, const std::string& text) {
  for (const std::string& c : d.definition_changes()) {
    if (c.find(text) != std::string::npos) return true;
  }
  return false;
}

// Flag, env var and secret: each change is a candidate of the same release, judged and
// promoted; a change that breaks a route is rejected; plaintext stays out of records.
TEST_F(DefinitionsRunTest, FlagEnvAndSecretEachJudgedAndPromoted) {
  SetSecret("first-pass");
  Put("hello/templates/app.conf", "port={{port}}\nbeta={{flags.beta}}\ndb={{secrets.db}}\n");
  Put(kServicePath, Service("off", "hello"));
  Channel();
  yoke_.StartYoke();
  auto running = yoke_.WaitForRole("running", "1.0.0", 1, 20s);
  ASSERT_TRUE(running) << yoke_.Log();
  EXPECT_EQ(running->env().at("GREETING"), "hello");
  EXPECT_EQ(running->env().at("YOKE_FLAG_BETA"), "off");
  EXPECT_EQ(running->env().at("DB_PASSWORD"), "(secret)");
  const fs::path dir = fs::read_symlink(yoke_.base() / "running").is_absolute()
                           ? fs::read_symlink(yoke_.base() / "running")
                           : yoke_.base() / fs::read_symlink(yoke_.base() / "running");
  EXPECT_EQ(ReadAll(dir / "db.secret"), "first-pass");
  struct stat st;
  ASSERT_EQ(::stat((dir / "db.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadAll(dir / "app.conf"),
            "port=" + std::to_string(running->port()) + "\nbeta=off\ndb=first-pass\n");
  EXPECT_EQ(ReadAll(dir / "instance.txtpb").find("first-pass"), std::string::npos);

  LoadGenerator load(yoke_.proxy_port(), {"/version", "/items", "/orders/17"});
  for (const Decision& d : Decisions(yoke_.base())) judged_.insert(d.to_version());
  auto expect_promoted = [&](const std::string& changed) {
    auto d = NextDecision();
    ASSERT_TRUE(d) << yoke_.Log();
    EXPECT_EQ(d->verdict(), Verdict::PROMOTE) << d->reason() << "\n" << d->DebugString();
    EXPECT_TRUE(d->to_version().starts_with("1.0.0+def-")) << d->to_version();
    EXPECT_TRUE(Mentions(*d, changed)) << d->DebugString();
    EXPECT_TRUE(WaitUntil([&] { return Running() == d->to_version(); }, 20s)) << yoke_.Log();
  };

  // A flag.
  Put(kServicePath, Service("on", "hello"));
  expect_promoted("flags[\"beta\"]");
  // An env var.
  Put(kServicePath, Service("on", "bonjour"));
  expect_promoted("env[\"GREETING\"]: \"hello\" -> \"bonjour\"");
  // A secret: a new ciphertext.
  SetSecret("second-pass");
  {
    auto d = NextDecision();
    ASSERT_TRUE(d) << yoke_.Log();
    EXPECT_EQ(d->verdict(), Verdict::PROMOTE) << d->DebugString();
    ASSERT_EQ(d->definition_changes_size(), 1) << d->DebugString();
    EXPECT_EQ(d->definition_changes(0), "secrets[\"db\"]: changed");
    EXPECT_TRUE(WaitUntil([&] { return Running() == d->to_version(); }, 20s)) << yoke_.Log();
  }
  auto now = yoke_.WaitForRole("running", Running(), 1, 20s);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->env().at("GREETING"), "bonjour");
  EXPECT_EQ(now->env().at("YOKE_FLAG_BETA"), "on");
  EXPECT_EQ(now->env().at("YOKE_VERSION"), "1.0.0");
  const fs::path now_dir = yoke_.base() / "versions" / Running() / "instances";
  bool found_secret = false;
  for (const auto& e : fs::directory_iterator(now_dir)) {
    if (fs::exists(e.path() / "db.secret")) {
      found_secret = ReadAll(e.path() / "db.secret") == "second-pass";
    }
  }
  EXPECT_TRUE(found_secret);

  // A config that breaks a route: rejected, running stays.
  const std::string before = Running();
  Put(kServicePath, Service("on", "bonjour", "--status /items=404"));
  {
    auto d = NextDecision();
    ASSERT_TRUE(d) << yoke_.Log();
    EXPECT_EQ(d->verdict(), Verdict::REJECT) << d->DebugString();
    // Rejected for the route it lost, not for anything else.
    EXPECT_NE(std::find(d->lost_routes().begin(), d->lost_routes().end(), "/items"),
              d->lost_routes().end())
        << d->DebugString();
    EXPECT_TRUE(Mentions(*d, "env[\"FIXTURE_EXTRA\"]")) << d->DebugString();
    EXPECT_EQ(Running(), before);
  }
  load.Stop();

  // No plaintext in the decisions (base and meta), nor in any archive.
  for (const Decision& d : Decisions(yoke_.base())) {
    EXPECT_EQ(d.DebugString().find("first-pass"), std::string::npos);
    EXPECT_EQ(d.DebugString().find("second-pass"), std::string::npos);
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        int archives = 0;
        for (const auto& e : fs::directory_iterator(yoke_.base() / "archive")) {
          (void)e;
          ++archives;
        }
        return archives >= 3;
      },
      30s));
  for (const auto& e : fs::directory_iterator(yoke_.base() / "archive")) {
    auto files = ReadZipFiles(e.path(), [](const std::string&) { return true; });
    ASSERT_TRUE(files) << files.error().message();
    for (const auto& [name, content] : *files) {
      EXPECT_EQ(content.find("first-pass"), std::string::npos) << e.path() << " " << name;
      EXPECT_EQ(content.find("second-pass"), std::string::npos) << e.path() << " " << name;
      EXPECT_FALSE(name.ends_with("db.secret")) << name;
    }
  }
  auto log = yoke_.Log();
  EXPECT_EQ(log.find("first-pass"), std::string::npos);
  EXPECT_EQ(log.find("second-pass"), std::string::npos);
}

// A definition whose env names a missing parent: the host keeps running what it runs and
// /status says why, naming the file.
TEST_F(DefinitionsRunTest, UnresolvableDefinitionKeepsRunning) {
  Channel();
  yoke_.StartYoke();
  ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0", 1, 20s)) << yoke_.Log();
  Put("hello/envs/prod.txtpb", "parent: \"base\"\n");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return HttpGet(yoke_.admin_port(), "/status")
                   .body.find(
                       "hello/envs/prod.txtpb: parent \\\"base\\\" has no record "
                       "hello/envs/base.txtpb") != std::string::npos;
      },
      20s))
      << HttpGet(yoke_.admin_port(), "/status").body;
  EXPECT_EQ(Running(), "1.0.0");
  EXPECT_FALSE(fs::exists(yoke_.base() / "testing"));
}

}  // namespace
}  // namespace yoke::testing

namespace yoke::testing {
namespace {

// A live flag's change reaches the running instance at once: its flags file is rewritten, it
// gets SIGHUP, a LIVE_FLAGS decision names the change, and no candidate starts.
TEST_F(DefinitionsRunTest, LiveFlagsMoveWithoutACandidate) {
  Put(kServicePath, "flags { name: \"kill\" value: \"off\" live: true }\n");
  Channel();
  yoke_.StartYoke();
  auto running = yoke_.WaitForRole("running", "1.0.0", 1, 20s);
  ASSERT_TRUE(running) << yoke_.Log();
  const fs::path dir = yoke_.base() / "versions" / "1.0.0" / "instances" / "0001-running";
  EXPECT_EQ(ReadAll(dir / "flags.properties"), "kill=off\n");
  EXPECT_EQ(HttpGet(running->port(), "/reloads").body, "0");

  Put(kServicePath, "flags { name: \"kill\" value: \"on\" live: true }\n");
  auto d = NextDecision();
  ASSERT_TRUE(d) << yoke_.Log();
  EXPECT_EQ(d->verdict(), Verdict::LIVE_FLAGS) << d->DebugString();
  EXPECT_EQ(d->from_version(), "1.0.0");
  EXPECT_EQ(d->to_version(), "1.0.0");
  ASSERT_EQ(d->definition_changes_size(), 1) << d->DebugString();
  EXPECT_NE(d->definition_changes(0).find("flags[\"kill\"]"), std::string::npos);
  EXPECT_EQ(ReadAll(dir / "flags.properties"), "kill=on\n");
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(running->port(), "/reloads").body == "1"; }, 10s));
  EXPECT_EQ(Running(), "1.0.0");
  EXPECT_FALSE(fs::exists(yoke_.base() / "testing"));
  // Recorded once: the next passes see nothing new.
  EXPECT_FALSE(WaitUntil(
      [&] {
        int n = 0;
        for (const Decision& each : Decisions(yoke_.base())) n += !each.to_version().empty();
        return n > 1;
      },
      3s));
}

}  // namespace
}  // namespace yoke::testing

namespace yoke::testing {
namespace {

// A template naming a missing value, and a secret this host cannot decrypt, each fail the
// candidate's start: rejected with the template's path and line, or the secret's file and
// age's reason; running stays as it was.
TEST_F(DefinitionsRunTest, BadTemplateAndUndecryptableSecretFailTheStart) {
  Put(kServicePath, "env { key: \"A\" value: \"1\" }\n");
  Channel();
  yoke_.StartYoke();
  ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0", 1, 20s)) << yoke_.Log();
  for (const Decision& d : Decisions(yoke_.base())) judged_.insert(d.to_version());

  Put("hello/templates/app.conf", "port={{port}}\ndb={{db_host}}\n");
  Put(kServicePath,
      "env { key: \"A\" value: \"1\" }\n"
      "templates { name: \"app.conf\" source: \"templates/app.conf\" }\n");
  auto d = NextDecision();
  ASSERT_TRUE(d) << yoke_.Log();
  EXPECT_EQ(d->verdict(), Verdict::REJECT) << d->DebugString();
  EXPECT_NE(d->reason().find("template app.conf: templates/app.conf:2: {{db_host}} has no value"),
            std::string::npos)
      << d->reason();
  EXPECT_EQ(Running(), "1.0.0");

  // Encrypted for another identity.
  const std::string other = Identity(dir_.path() / "other");
  auto pub = RunPiped({"age-keygen", "-y", other}, "", 10s);
  ASSERT_TRUE(pub && pub->exit_code == 0);
  auto sealed = AgeEncrypt({pub->out.substr(0, pub->out.find('\n'))}, "not-for-h1");
  ASSERT_TRUE(sealed);
  Put("hello/secrets/db.age", *sealed);
  Put(kServicePath, "env { key: \"A\" value: \"1\" }\nsecrets { name: \"db\" env: \"DB\" }\n");
  d = NextDecision();
  ASSERT_TRUE(d) << yoke_.Log();
  EXPECT_EQ(d->verdict(), Verdict::REJECT) << d->DebugString();
  EXPECT_NE(d->reason().find("secret db (secrets/db.age in meta): age cannot decrypt it"),
            std::string::npos)
      << d->reason();
  EXPECT_EQ(d->reason().find("not-for-h1"), std::string::npos);
  EXPECT_EQ(Running(), "1.0.0");
}

}  // namespace
}  // namespace yoke::testing

namespace yoke::testing {
namespace {

// `yoke meta resolve` prints every field with the file and line that set it, across the
// project, env (and its parent), host and service levels; a missing parent is refused naming
// the files, with exit code 1.
TEST_F(DefinitionsRunTest, ResolveShowsProvenanceAcrossFourLevels) {
  Put("hello/definition.txtpb", "env { key: \"LOG\" value: \"info\" }\n");
  Put("hello/envs/base.txtpb", "definition {\n  env { key: \"POOL\" value: \"4\" }\n}\n");
  Put("hello/envs/prod.txtpb",
      "parent: \"base\"\ndefinition {\n  env { key: \"LOG\" value: \"warn\" }\n}\n");
  Put("hello/prod/host-definitions/h1.txtpb", "\nenv { key: \"POOL\" value: \"16\" }\n");
  Put(kServicePath, "\n\nflags { name: \"beta\" value: \"on\" }\n");
  auto out = yoke_.Cli({"meta", "resolve", "--repo", remote_.string(), "--project", "hello",
                        "--env", "prod", "--host", "h1", "--service", "hello"});
  ASSERT_EQ(out.code, 0) << out.output;
  auto line_of = [&](const std::string& field) {
    auto at = out.output.find(field);
    return at == std::string::npos ? std::string()
                                   : out.output.substr(at, out.output.find('\n', at) - at);
  };
  EXPECT_NE(line_of("env[\"LOG\"]").find("\"warn\""), std::string::npos) << out.output;
  EXPECT_NE(line_of("env[\"LOG\"]").find("hello/envs/prod.txtpb:3 (env prod)"), std::string::npos)
      << out.output;
  EXPECT_NE(line_of("env[\"POOL\"]").find("hello/prod/host-definitions/h1.txtpb:2 (host h1)"),
            std::string::npos)
      << out.output;
  EXPECT_NE(line_of("flags[\"beta\"]").find("hello/prod/services/hello.txtpb:3 (service hello)"),
            std::string::npos)
      << out.output;
  EXPECT_NE(out.output.find("chain: hello/definition.txtpb hello/envs/base.txtpb "
                            "hello/envs/prod.txtpb hello/prod/host-definitions/h1.txtpb "
                            "hello/prod/services/hello.txtpb"),
            std::string::npos)
      << out.output;

  Put("hello/envs/prod.txtpb", "parent: \"stagin\"\n");
  auto bad = yoke_.Cli({"meta", "resolve", "--repo", remote_.string(), "--project", "hello",
                        "--env", "prod", "--host", "h1", "--service", "hello"});
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_NE(bad.output.find("hello/envs/prod.txtpb: parent \"stagin\" has no record "
                            "hello/envs/stagin.txtpb"),
            std::string::npos)
      << bad.output;
}

}  // namespace
}  // namespace yoke::testing
