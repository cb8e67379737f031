// The CLI that CI and people lean on, against a real `yoke run`: `yoke wait` follows a candidate
// to its verdict (exit 0 promoted, 10 rejected, 11 timeout), the read commands' --json, a config
// found by its service's name or $YOKE_CONFIG, and hand verdicts that print their decision's id.
// Every wait has a deadline; every process started here is stopped by its pid.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>

#include "tests/integration/yoke_harness.h"

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

std::string Config(const YokeHarness& yoke) { return yoke.config_path().string(); }

json::value Json(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

// `yoke ARGS` run through /usr/bin/env with `assignments` ("NAME=value") set, at most 30 s.
YokeHarness::CliResult WithEnv(const YokeHarness& yoke, const std::vector<std::string>& assignments,
                               const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "YOKE_CONFIG"};
  argv.insert(argv.end(), assignments.begin(), assignments.end());
  argv.push_back(YokeBinary().string());
  argv.insert(argv.end(), args.begin(), args.end());
  static int calls = 0;  // a file of its own for each call: the output is appended to
  fs::path out = yoke.dir() / ("cli-env-" + std::to_string(++calls) + ".out");
  Subprocess cli(argv, out);
  auto status = cli.Wait(30s);
  YokeHarness::CliResult result;
  if (status && WIFEXITED(*status)) result.code = WEXITSTATUS(*status);
  result.output = ReadAll(out);
  return result;
}

// The id after "decision " in a command's output, or "".
std::string DecisionId(const std::string& output) {
  size_t at = output.rfind("decision ");
  if (at == std::string::npos) return {};
  size_t end = output.find('\n', at);
  return output.substr(at + 9, end == std::string::npos ? std::string::npos : end - at - 9);
}

// A clean candidate under traffic: `yoke wait` exits 0 with its decision; a candidate that
// crashes: 10; a version nobody tests: 11 at the timeout. The read commands' JSON agrees.
TEST(CliCiTest, WaitFollowsCandidatesToTheirVerdicts) {
  YokeHarness yoke(
      "judge { min_window_s: 2 min_pairs: 200 max_window_s: 60 auto_promote_major: true }\n");
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  ASSERT_TRUE(yoke.WaitForRole("running", "1.0.0")) << yoke.Log();

  auto none = yoke.Cli({"wait", "--config", Config(yoke), "--version", "9.9.9", "--timeout", "1s",
                        "--interval", "200ms"});
  EXPECT_EQ(none.code, 11) << none.output;
  EXPECT_NE(none.output.find("timed out after 1s: 9.9.9 is not decided"), std::string::npos)
      << none.output;

  LoadGenerator load(yoke.proxy_port(), {"/version", "/items", "/orders/17"});
  yoke.DropScript("2.0.0", "");
  auto promoted =
      yoke.Cli({"wait", "--config", Config(yoke), "--version", "2.0.0", "--timeout", "90s"}, 100s);
  EXPECT_EQ(promoted.code, 0) << promoted.output << yoke.Log();
  EXPECT_NE(promoted.output.find("PROMOTE  1.0.0 -> 2.0.0  judge"), std::string::npos)
      << promoted.output;
  const std::string promote_id = DecisionId(promoted.output);
  EXPECT_TRUE(fs::exists(yoke.base() / "decisions" / (promote_id + ".txtpb"))) << promote_id;

  yoke.DropScript("3.0.0", "--crash-after-ms 300");
  auto rejected =
      yoke.Cli({"wait", "--config", Config(yoke), "--version", "3.0.0", "--timeout", "60s"}, 70s);
  EXPECT_EQ(rejected.code, 10) << rejected.output << yoke.Log();
  EXPECT_NE(rejected.output.find("REJECT  2.0.0 -> 3.0.0"), std::string::npos) << rejected.output;
  load.Stop();

  // decisions --json: newest first, each record whole.
  auto decisions = WithEnv(yoke, {}, {"decisions", "--json", "--config", Config(yoke)});
  ASSERT_EQ(decisions.code, 0) << decisions.output;
  json::value d = Json(decisions.output);
  const json::array& list = d.at("decisions").as_array();
  ASSERT_GE(list.size(), 2u);
  EXPECT_EQ(list[0].at("decision").at("verdict").as_string(), "REJECT");
  EXPECT_EQ(list[0].at("decision").at("to_version").as_string(), "3.0.0");
  EXPECT_EQ(list[1].at("id").as_string(), promote_id);
  auto show =
      WithEnv(yoke, {}, {"decisions", "show", promote_id, "--json", "--config", Config(yoke)});
  ASSERT_EQ(show.code, 0) << show.output;
  EXPECT_EQ(Json(show.output).at("decision").at("verdict").as_string(), "PROMOTE");

  // archive list --json: newest first, sizes in bytes; versions --json agrees on the archives.
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(yoke.base() / "archive/hello-3.0.0.zip"); }, 20s));
  auto archives = WithEnv(yoke, {}, {"archive", "list", "--json", "--config", Config(yoke)});
  ASSERT_EQ(archives.code, 0) << archives.output;
  json::value archive_list = Json(archives.output);
  const json::array& rows = archive_list.at("archives").as_array();
  ASSERT_EQ(rows.size(), 2u) << archives.output;
  EXPECT_EQ(rows[0].at("version").as_string(), "3.0.0");
  EXPECT_EQ(rows[1].at("version").as_string(), "1.0.0");
  EXPECT_GT(rows[0].at("size_bytes").to_number<double>(), 0);
  auto versions = WithEnv(yoke, {}, {"versions", "--json", "--config", Config(yoke)});
  ASSERT_EQ(versions.code, 0) << versions.output;
  json::value v = Json(versions.output);
  ASSERT_GE(v.at("versions").as_array().size(), 1u) << versions.output;
  EXPECT_EQ(v.at("versions").as_array()[0].at("version").as_string(), "2.0.0");
  EXPECT_EQ(v.at("archives").as_array().size(), 2u);

  // The config by its name (the file's stem in $YOKE_CONFIG_DIR) and by $YOKE_CONFIG.
  const std::string dir = yoke.config_path().parent_path().string();
  const std::string name = yoke.config_path().stem().string();
  auto by_name = WithEnv(yoke, {"YOKE_CONFIG_DIR=" + dir}, {"versions", name});
  EXPECT_EQ(by_name.code, 0) << by_name.output;
  EXPECT_NE(by_name.output.find("version 2.0.0"), std::string::npos) << by_name.output;
  auto check = WithEnv(yoke, {"YOKE_CONFIG_DIR=" + dir}, {"check-config", name});
  EXPECT_EQ(check.code, 0) << check.output;
  EXPECT_NE(check.output.find(Config(yoke) + ": ok (service hello"), std::string::npos)
      << check.output;
  auto by_env = WithEnv(yoke, {"YOKE_CONFIG=" + Config(yoke)}, {"status"});
  EXPECT_EQ(by_env.code, 0) << by_env.output;
  EXPECT_NE(by_env.output.find("running  2.0.0"), std::string::npos) << by_env.output;
  auto neither = WithEnv(yoke, {"YOKE_CONFIG_DIR=" + dir}, {"status"});
  EXPECT_EQ(neither.code, 2) << neither.output;
  EXPECT_NE(neither.output.find("no config given"), std::string::npos) << neither.output;
}

// With a judge that never decides, hand verdicts print the id of the decision they recorded,
// and `yoke wait` on a version rejected by hand exits 10 at once.
TEST(CliCiTest, HandVerdictsPrintTheirDecision) {
  YokeHarness yoke("judge { min_window_s: 600 min_pairs: 200 max_window_s: 1200 }\n");
  yoke.StartYoke();
  yoke.DropScript("1.0.0", "");
  ASSERT_TRUE(yoke.WaitForRole("running", "1.0.0")) << yoke.Log();
  yoke.DropScript("2.0.0", "");
  ASSERT_TRUE(yoke.WaitForRole("testing", "2.0.0")) << yoke.Log();

  auto reject = yoke.Cli({"reject", "--config", Config(yoke), "--reason", "checked by hand"});
  EXPECT_EQ(reject.code, 0) << reject.output;
  EXPECT_NE(reject.output.find("rejected 2.0.0"), std::string::npos) << reject.output;
  const std::string id = DecisionId(reject.output);
  ASSERT_FALSE(id.empty()) << reject.output;
  EXPECT_TRUE(
      WaitUntil([&] { return fs::exists(yoke.base() / "decisions" / (id + ".txtpb")); }, 10s))
      << id;
  auto wait = yoke.Cli({"wait", "--config", Config(yoke), "--version", "2.0.0", "--timeout", "5s"});
  EXPECT_EQ(wait.code, 10) << wait.output;
  EXPECT_EQ(DecisionId(wait.output), id) << wait.output;

  // --watch redraws: two views, each with its header, then --count ends it.
  auto watch = WithEnv(
      yoke, {},
      {"status", "--watch", "--count", "2", "--interval", "100ms", "--config", Config(yoke)});
  EXPECT_EQ(watch.code, 0) << watch.output;
  size_t first = watch.output.find("every 100ms: yoke status ");
  ASSERT_NE(first, std::string::npos) << watch.output;
  EXPECT_NE(watch.output.find("every 100ms: yoke status ", first + 1), std::string::npos)
      << watch.output;
  EXPECT_NE(watch.output.find("running  1.0.0"), std::string::npos) << watch.output;

  // Typos get the nearest name and exit 2.
  auto typo = WithEnv(yoke, {}, {"stauts", "--config", Config(yoke)});
  EXPECT_EQ(typo.code, 2) << typo.output;
  EXPECT_NE(typo.output.find("did you mean 'status'?"), std::string::npos) << typo.output;
  auto flag = WithEnv(yoke, {}, {"decisions", "--lmit", "3", "--config", Config(yoke)});
  EXPECT_EQ(flag.code, 2) << flag.output;
  EXPECT_NE(flag.output.find("did you mean '--limit'?"), std::string::npos) << flag.output;

  auto pin = yoke.Cli({"pin", "1.0.0", "--config", Config(yoke), "--reason", "freeze"});
  EXPECT_EQ(pin.code, 0) << pin.output;
  const std::string pin_id = DecisionId(pin.output);
  EXPECT_NE(pin_id, id);
  EXPECT_NE(pin_id.find("-to-1.0.0"), std::string::npos) << pin.output;
}

}  // namespace
}  // namespace yoke::testing
