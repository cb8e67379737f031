#include "supervisor/config_loader.h"

#include <gtest/gtest.h>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

class ConfigLoaderTest : public ::testing::Test {
 protected:
  std::string ErrorsFor(const std::string& text) {
    testing::WriteAll(dir_.path() / "c.txtpb", text);
    auto config = LoadConfig(dir_.path() / "c.txtpb");
    return config ? "" : config.error().message();
  }
  std::string Where(int line, int column) {
    return (dir_.path() / "c.txtpb").string() + ":" + std::to_string(line) + ":" +
           std::to_string(column) + ": error: ";
  }
  testing::TempDir dir_;
};

const char* kHead = "service: \"hello\"\nbase_dir: \"/srv/hello\"\n";

TEST_F(ConfigLoaderTest, LoadsTheIssueExample) {
  EXPECT_EQ(ErrorsFor(std::string(kHead) + R"(
identifier: "hello"
listen: "0.0.0.0:8080"
admin_listen: "127.0.0.1:8081"
port_range { first: 20000 last: 20099 }
command: "{artifact} --port {port}"
properties_file: "app.properties"
port_key: "server.port"
health { http_path: "/health" timeout_ms: 10000 }
stop_grace_ms: 10000
json_log_glob: "logs/json/*.log"
disk_budget_bytes: 1073741824
)"),
            "");
}

// Syntax errors: unknown fields and bad values, each with its line and column.
TEST_F(ConfigLoaderTest, ReportsUnknownFieldAndBadValueWithLineAndColumn) {
  std::string unknown = ErrorsFor(std::string(kHead) + "command: \"{artifact}\"\ncolour: 3\n");
  EXPECT_NE(unknown.find(Where(4, 7)), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("colour"), std::string::npos) << unknown;
  std::string bad = ErrorsFor(std::string(kHead) + "command: \"{artifact}\"\nstop_grace_ms: -5\n");
  EXPECT_NE(bad.find(Where(4, 16)), std::string::npos) << bad;
}

// Rule errors point at the field that breaks the rule.
TEST_F(ConfigLoaderTest, ReportsRuleErrorsAtTheirField) {
  std::string empty_range = ErrorsFor(
      std::string(kHead) + "command: \"{artifact}\"\nport_range {\n  first: 30\n  last: 20\n}\n");
  EXPECT_NE(empty_range.find(Where(4, 1)), std::string::npos) << empty_range;
  EXPECT_NE(empty_range.find("empty"), std::string::npos);
  std::string overlap =
      ErrorsFor(std::string(kHead) + "command: \"{artifact}\"\nlisten: \"0.0.0.0:20050\"\n");
  EXPECT_NE(overlap.find(Where(4, 1)), std::string::npos) << overlap;
  std::string no_artifact = ErrorsFor(std::string(kHead) + "command: \"java -jar app.jar\"\n");
  EXPECT_NE(no_artifact.find(Where(3, 1)), std::string::npos) << no_artifact;
  EXPECT_NE(no_artifact.find("{artifact}"), std::string::npos);
}

TEST_F(ConfigLoaderTest, ReportsMissingFile) {
  auto config = LoadConfig(dir_.path() / "absent.txtpb");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("absent.txtpb"), std::string::npos);
}

// Every example in configs/ loads: they are documentation that must stay true.
TEST(ConfigsFolderTest, EveryExampleConfigLoads) {
  int loaded = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(YOKE_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".txtpb") continue;
    auto config = LoadConfig(entry.path());
    EXPECT_TRUE(config) << config.error().message();
    ++loaded;
  }
  EXPECT_GE(loaded, 3);
}

}  // namespace
}  // namespace yoke
