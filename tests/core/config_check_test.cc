#include "core/config_check.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace yoke {
namespace {

Config Parse(const std::string& text) {
  Config config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config)) << text;
  return config;
}

const char* kGood = R"(
  service: "hello" base_dir: "/srv/hello" command: "{artifact} --port {port}"
)";

std::string Problems(const Config& config) {
  std::string all;
  for (const auto& p : CheckConfig(config)) all += p.message + "\n";
  return all;
}

TEST(ConfigCheckTest, AcceptsMinimalConfigWithDefaults) {
  Config config = Parse(kGood);
  EXPECT_EQ(Problems(config), "");
  EXPECT_EQ(IdentifierOf(config), "hello");
  EXPECT_EQ(config.port_range().first(), 20000u);
  EXPECT_EQ(config.stop_grace_ms(), 10000u);
}

// Each broken rule is reported against the field it is about.
TEST(ConfigCheckTest, ReportsEachProblemWithItsField) {
  struct Case {
    std::string extra;
    std::string field;
    std::string words;
  } cases[] = {
      {"port_range { first: 9 last: 8 }", "port_range", "empty"},
      {"listen: \"0.0.0.0:20005\"", "listen", "inside port_range"},
      {"admin_listen: \"nonsense\"", "admin_listen", "host:port"},
      {"health { http_path: \"health\" }", "health", "start with '/'"},
      {"json_log_glob: \"/abs/*.log\"", "json_log_glob", "relative"},
      {"pid_file: \"/run/nginx.pid\"", "pid_file", "inside the instance folder"},
      {"pid_file: \"../other/nginx.pid\"", "pid_file", "inside the instance folder"},
      {"pid_file: \"\"", "pid_file", "inside the instance folder"},
      {"log { level: \"loud\" }", "log", "level"},
      {"intake { min_free_percent: 101 }", "intake", "0-100"},
  };
  for (const Case& c : cases) {
    auto problems = CheckConfig(Parse(std::string(kGood) + c.extra));
    ASSERT_EQ(problems.size(), 1u) << c.extra;
    EXPECT_EQ(problems[0].field_path[0], c.field) << c.extra;
    EXPECT_NE(problems[0].message.find(c.words), std::string::npos) << problems[0].message;
  }
}

TEST(ConfigCheckTest, RequiresArtifactInCommand) {
  auto problems = CheckConfig(Parse(R"(service: "a" base_dir: "/b" command: "java -jar x.jar")"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("{artifact}"), std::string::npos);
}

TEST(ConfigCheckTest, RequiresServiceBaseAndCommand) {
  auto problems = CheckConfig(Config());
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].field_path[0], "service");
  EXPECT_EQ(problems[1].field_path[0], "base_dir");
  EXPECT_EQ(problems[2].field_path[0], "command");
}

}  // namespace
}  // namespace yoke

namespace yoke {
namespace {

// Meta's names become folders in meta: one that would escape its folder is a config error at
// its field; project and host may be left empty (they default to the service and host name).
TEST(ConfigCheckMetaTest, MetaNamesArePlainNames) {
  Config config;
  config.set_service("shop");
  config.set_base_dir("/srv/shop");
  config.set_command("{artifact} --port {port}");
  auto fields = [](const Config& c) {
    std::vector<std::string> out;
    for (const auto& p : CheckConfig(c)) {
      if (!p.field_path.empty() && p.field_path[0] == "meta") out.push_back(p.field_path[1]);
    }
    return out;
  };
  EXPECT_TRUE(fields(config).empty());
  config.mutable_meta()->set_env("../etc");
  config.mutable_meta()->set_host(".hidden");
  config.mutable_meta()->set_channel("");
  config.mutable_meta()->set_poll_interval_s(0);
  EXPECT_EQ(fields(config),
            (std::vector<std::string>{"env", "channel", "host", "poll_interval_s"}));
}

// A real remote: an ssh url without known_hosts_file, or a url with a password in it, is a bad
// config, reported against meta.url.
TEST(ConfigCheckMetaTest, RemotesCheckTheHostKeyAndKeepSecretsOutOfTheUrl) {
  Config config = Parse(kGood);
  config.mutable_meta()->set_url("ssh://git@git.example.com/srv/meta.git");
  EXPECT_NE(Problems(config).find("an ssh url needs known_hosts_file"), std::string::npos);
  config.mutable_meta()->set_known_hosts_file("/etc/yoke/known_hosts");
  EXPECT_EQ(Problems(config), "");
  config.mutable_meta()->set_url("https://user:tok3n@git.example.com/meta.git");
  EXPECT_NE(Problems(config).find("the url holds a password"), std::string::npos);
  config.mutable_meta()->set_url("https://git.example.com/meta.git");
  config.mutable_meta()->set_timeout_s(0);
  EXPECT_NE(Problems(config).find("must be >= 1"), std::string::npos);
}

}  // namespace
}  // namespace yoke
