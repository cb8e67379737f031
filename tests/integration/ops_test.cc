// The operator commands against a base made by a real `yoke run`: a candidate is promoted under
// user traffic, so the base holds a decision with its gates and an archive of the old version.
// Then `yoke status`, `yoke decisions [show] [--meta]` and `yoke archive list|show|extract` run
// as an operator would run them, with yoke up and after it has stopped. Every wait has a deadline;
// every process started here is stopped by its pid.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cctype>

#include "meta/git_store.h"
#include "meta/layout.h"
#include "supervisor/cli/cli_common.h"
#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct CliResult {
  int exit = -1;       // -1: it did not finish in time
  std::string output;  // stdout and stderr together
};

class OpsCliTest : public ::testing::Test {
 protected:
  OpsCliTest()
      : yoke_(
            "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 auto_promote_major: true "
            "}\n") {}

  // Runs `yoke <args> --config <config>` and waits for it, at most 20 s.
  CliResult Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = {YokeBinary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--config");
    argv.push_back(yoke_.config_path().string());
    fs::path out = yoke_.base().parent_path() / ("cli-" + std::to_string(++calls_) + ".out");
    Subprocess cli(argv, out);
    auto status = cli.Wait(20s);
    CliResult result;
    if (status && WIFEXITED(*status)) result.exit = WEXITSTATUS(*status);
    result.output = ReadAll(out);
    return result;
  }

  // 1.0.0 running, 2.0.0 tested under traffic and promoted by the judge; 1.0.0 archived.
  void PromoteACandidate() {
    yoke_.StartYoke();
    yoke_.DropScript("1.0.0", "");
    ASSERT_TRUE(yoke_.WaitForRole("running", "1.0.0")) << yoke_.Log();
    LoadGenerator load(yoke_.proxy_port(), {"/version", "/items", "/orders/17"});
    yoke_.DropScript("2.0.0", "");
    ASSERT_TRUE(yoke_.WaitForRole("running", "2.0.0", 2, 60s)) << yoke_.Log();
    ASSERT_TRUE(
        WaitUntil([&] { return fs::exists(yoke_.base() / "archive/hello-1.0.0.zip"); }, 20s))
        << yoke_.Log();
  }

  // The ids a `yoke decisions` listing starts its lines with (ids begin with the UTC time).
  static std::vector<std::string> Ids(const std::string& listing) {
    std::vector<std::string> ids;
    size_t at = 0;
    while (at < listing.size()) {
      size_t end = listing.find('\n', at);
      if (end == std::string::npos) end = listing.size();
      std::string line = listing.substr(at, end - at);
      if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) {
        ids.push_back(line.substr(0, line.find(' ')));
      }
      at = end + 1;
    }
    return ids;
  }

  YokeHarness yoke_;
  int calls_ = 0;
};

// While yoke runs, `yoke status` shows the running version and the last decision, and --json
// passes /status through; once yoke has stopped, it says so, shows the base, and exits 1.
TEST_F(OpsCliTest, StatusWithYokeRunningThenStopped) {
  ASSERT_NO_FATAL_FAILURE(PromoteACandidate());
  CliResult status = Cli({"status"});
  EXPECT_EQ(status.exit, 0) << status.output;
  EXPECT_NE(status.output.find("hello: yoke up "), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("running  2.0.0  instance 2  port "), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find("testing  none"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("\njudge\n"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("PROMOTE  1.0.0 -> 2.0.0  judge"), std::string::npos)
      << status.output;
  // The harness's config has no meta {}: the embedded default in <base>/meta, no remote.
  EXPECT_NE(status.output.find("\nmeta\n  repository  " + (yoke_.base() / "meta").string() +
                               "\n  remote      none (embedded)\n"),
            std::string::npos)
      << status.output;
  CliResult json = Cli({"status", "--json"});
  EXPECT_EQ(json.exit, 0) << json.output;
  EXPECT_EQ(json.output.rfind("{\"service\":\"hello\"", 0), 0u) << json.output;
  EXPECT_NE(json.output.find("\"running\":{\"version\":\"2.0.0\""), std::string::npos)
      << json.output;

  auto stopped = yoke_.StopYoke();
  ASSERT_TRUE(stopped);
  CliResult down = Cli({"status"});
  EXPECT_EQ(down.exit, 1) << down.output;
  EXPECT_NE(down.output.find("yoke is not running: nothing answers on its admin API at 127.0.0.1:" +
                             std::to_string(yoke_.admin_port())),
            std::string::npos)
      << down.output;
  EXPECT_NE(down.output.find("running  2.0.0  instance 0002-running"), std::string::npos)
      << down.output;
  EXPECT_NE(down.output.find("journal"), std::string::npos) << down.output;
  EXPECT_NE(down.output.find("PROMOTE  1.0.0 -> 2.0.0"), std::string::npos) << down.output;
  CliResult down_json = Cli({"status", "--json"});
  EXPECT_EQ(down_json.exit, 1);
  EXPECT_EQ(down_json.output.find('{'), std::string::npos) << down_json.output;
}

// `yoke decisions` lists the judge's decision in one line; `show` prints its gates; a record
// that does not parse is reported with its path and line and skipped.
TEST_F(OpsCliTest, DecisionsListAndShow) {
  ASSERT_NO_FATAL_FAILURE(PromoteACandidate());
  CliResult list = Cli({"decisions"});
  EXPECT_EQ(list.exit, 0) << list.output;
  size_t at = list.output.find("PROMOTE  1.0.0 -> 2.0.0  judge  every gate passed after ");
  ASSERT_NE(at, std::string::npos) << list.output;
  std::string id = list.output.substr(0, list.output.find(' '));
  EXPECT_TRUE(fs::exists(yoke_.base() / "decisions" / (id + ".txtpb"))) << id;

  CliResult show = Cli({"decisions", "show", id});
  EXPECT_EQ(show.exit, 0) << show.output;
  EXPECT_NE(show.output.find("decision  " + id + "\n"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("verdict   PROMOTE\n"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("  gate   "), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("  5xx   "), std::string::npos) << show.output;
  // The gate column is as wide as the longest name, log_error_routes.
  EXPECT_NE(show.output.find("  new_error_kinds   pass"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("  5xx_routes        pass"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("worse routes     none\n"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("lost routes      none\n"), std::string::npos) << show.output;
  CliResult missing = Cli({"decisions", "show", "1999"});
  EXPECT_EQ(missing.exit, 1) << missing.output;
  EXPECT_NE(missing.output.find("no decision '1999'"), std::string::npos) << missing.output;

  WriteAll(yoke_.base() / "decisions/20000101T000000Z-0.1-to-0.2.txtpb",
           "verdict: PROMOTE\nx: 1\n");
  CliResult with_bad = Cli({"decisions", "--limit", "0"});
  EXPECT_EQ(with_bad.exit, 0) << with_bad.output;
  EXPECT_NE(with_bad.output.find(
                "skipped a record that does not parse: " + (yoke_.base() / "decisions").string() +
                "/20000101T000000Z-0.1-to-0.2.txtpb:2:"),
            std::string::npos)
      << with_bad.output;
  EXPECT_NE(with_bad.output.find(id), std::string::npos) << with_bad.output;
}

// `yoke decisions --meta` reads the run's meta repository (the embedded <base>/meta) and lists
// what `yoke decisions` lists from the base, line for line; `show --meta` finds a decision by id
// in meta; a bad record committed to meta is reported with its path and line and skipped.
TEST_F(OpsCliTest, DecisionsFromMetaMatchTheBase) {
  ASSERT_NO_FATAL_FAILURE(PromoteACandidate());
  ASSERT_TRUE(yoke_.StopYoke());  // commits the last decisions to meta before it exits
  CliResult base = Cli({"decisions", "--limit", "0"});
  CliResult meta = Cli({"decisions", "--meta", "--limit", "0"});
  EXPECT_EQ(base.exit, 0) << base.output;
  EXPECT_EQ(meta.exit, 0) << meta.output;
  std::vector<std::string> ids = Ids(base.output);
  ASSERT_FALSE(ids.empty()) << base.output;
  EXPECT_EQ(Ids(meta.output), ids) << meta.output;
  EXPECT_EQ(meta.output, base.output);

  const std::string dir = meta::DecisionsDir("hello", "prod", HostName(), "hello");
  CliResult show = Cli({"decisions", "show", ids.front(), "--meta"});
  EXPECT_EQ(show.exit, 0) << show.output;
  EXPECT_NE(show.output.find("decision  " + ids.front() + "\n"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("file      " + dir + "/" + ids.front() + ".txtpb\n"),
            std::string::npos)
      << show.output;
  EXPECT_NE(show.output.find("verdict   PROMOTE\n"), std::string::npos) << show.output;

  // The same repository named with --repo and the host with --host; another host has none.
  const std::string repo = (yoke_.base() / "meta").string();
  EXPECT_EQ(Cli({"decisions", "--meta", "--repo", repo, "--host", HostName(), "-n", "0"}).output,
            base.output);
  CliResult other = Cli({"decisions", "--meta", "--host", "web-99"});
  EXPECT_EQ(other.exit, 0) << other.output;
  EXPECT_NE(other.output.find("no decisions in " + repo + " (branch main) hello/prod/hosts/web-99"),
            std::string::npos)
      << other.output;
  CliResult missing = Cli({"decisions", "--meta", "--repo", repo + "-missing"});
  EXPECT_EQ(missing.exit, 1) << missing.output;
  EXPECT_NE(missing.output.find("cannot open meta repository " + repo + "-missing"),
            std::string::npos)
      << missing.output;
  EXPECT_EQ(Cli({"decisions", "--repo", repo}).exit, 2);

  {
    auto store = meta::GitStore::Open(repo, "main");
    ASSERT_TRUE(store) << store.error().message();
    ASSERT_TRUE(
        (*store)->Commit({{dir + "/20000101T000000Z-0.1-to-0.2.txtpb", "verdict: PROMOTE\nx: 1\n"}},
                         "test: a bad record", {"test", "test@example.com"}));
  }
  CliResult with_bad = Cli({"decisions", "--meta", "--limit", "0"});
  EXPECT_EQ(with_bad.exit, 0) << with_bad.output;
  EXPECT_NE(with_bad.output.find("skipped a record that does not parse: " + dir +
                                 "/20000101T000000Z-0.1-to-0.2.txtpb:2:"),
            std::string::npos)
      << with_bad.output;
  EXPECT_EQ(Ids(with_bad.output), ids) << with_bad.output;
}

// `yoke archive list|show|extract` on the archive a promotion left: listing, grouped contents,
// and an unpacked copy that refuses to overwrite unless forced.
TEST_F(OpsCliTest, ArchiveListShowExtract) {
  ASSERT_NO_FATAL_FAILURE(PromoteACandidate());
  CliResult list = Cli({"archive", "list"});
  EXPECT_EQ(list.exit, 0) << list.output;
  EXPECT_NE(list.output.find("VERSION  SIZE"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("\n1.0.0  "), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("hello-1.0.0.zip"), std::string::npos) << list.output;

  CliResult show = Cli({"archive", "show", "1.0.0"});
  EXPECT_EQ(show.exit, 0) << show.output;
  EXPECT_NE(show.output.find("artifact\n  hello-1.0.0.sh  "), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("instance 0001-running\n  role running, port "), std::string::npos)
      << show.output;
  EXPECT_NE(show.output.find("  output  stdout"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("  log     logs/json/app.log"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("  record  instance.txtpb"), std::string::npos) << show.output;
  size_t link = show.output.find("  link    artifact  ");
  ASSERT_NE(link, std::string::npos) << show.output;
  std::string link_line = show.output.substr(link, show.output.find('\n', link) - link);
  EXPECT_TRUE(link_line.ends_with("-> ../../hello-1.0.0.sh")) << link_line;
  EXPECT_EQ(Cli({"archive", "show", "9.9.9"}).exit, 1);

  fs::path to = yoke_.base().parent_path() / "extracted";
  CliResult extract = Cli({"archive", "extract", "1.0.0", "--to", to.string()});
  EXPECT_EQ(extract.exit, 0) << extract.output;
  EXPECT_NE(extract.output.find("file  " + (to / "1.0.0/hello-1.0.0.sh").string()),
            std::string::npos)
      << extract.output;
  EXPECT_NE(ReadAll(to / "1.0.0/instances/0001-running/stdout").find("listening on"),
            std::string::npos);
  EXPECT_EQ(ReadAll(to / "1.0.0/instances/0001-running/artifact"),
            ReadAll(to / "1.0.0/hello-1.0.0.sh"));
  CliResult again = Cli({"archive", "extract", "1.0.0", "--to", to.string()});
  EXPECT_EQ(again.exit, 1);
  EXPECT_NE(again.output.find("is not empty (use --force"), std::string::npos) << again.output;
  EXPECT_EQ(Cli({"archive", "extract", "1.0.0", "--to", to.string(), "--force"}).exit, 0);
}

// A bad config is exit 2 with file:line, for every command.
TEST(OpsCliUsageTest, BadConfigIsExit2) {
  TempDir dir;
  fs::path bad = dir.path() / "bad.txtpb";
  WriteAll(bad, "service: \"x\"\nbase_dir: \"/b\"\ncommand: \"run\"\n");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"status"}, {"decisions"}, {"archive", "list"}}) {
    args.insert(args.begin(), YokeBinary().string());
    args.push_back("--config");
    args.push_back(bad.string());
    fs::path out = dir.path() / (args[1] + ".out");
    Subprocess cli(args, out);
    auto status = cli.Wait(10s);
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 2) << args[1];
    EXPECT_NE(ReadAll(out).find(bad.string() + ":3:1: error:"), std::string::npos) << ReadAll(out);
  }
}

}  // namespace
}  // namespace yoke::testing
