#include "supervisor/cli/config_loader.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <map>
#include <sstream>

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

// Every error in the file, not the first: each unknown field with the nearest known name, and
// syntax errors on separate lines, in line order.
TEST_F(ConfigLoaderTest, ReportsEveryErrorWithTheNearestFieldName) {
  std::string errors = ErrorsFor(std::string(kHead) +
                                 "command: \"{artifact}\"\n"
                                 "stop_grace: 5\n"
                                 "judge { min_pair: 10 max_window_s: 60 }\n"
                                 "health { timeout_ms: \"soon\" }\n"
                                 "listen 8080\n");
  EXPECT_NE(errors.find(Where(4, 11)), std::string::npos) << errors;
  EXPECT_NE(errors.find("\"stop_grace\". Did you mean \"stop_grace_ms\"?"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("\"min_pair\". Did you mean \"min_pairs\"?"), std::string::npos) << errors;
  EXPECT_NE(errors.find(Where(6, 22)), std::string::npos) << errors;  // timeout_ms: "soon"
  EXPECT_NE(errors.find(":7:"), std::string::npos) << errors;         // listen 8080
  EXPECT_LT(errors.find(":4:"), errors.find(":5:"));
  EXPECT_LT(errors.find(":5:"), errors.find(":6:"));
}

// check-config's warning: min_pairs below what a clean pass needs at the configured margin and
// confidence names that figure; a min_pairs above it, or a wider margin, gives none.
TEST_F(ConfigLoaderTest, WarnsWhenMinPairsIsBelowACleanPass) {
  Config config;
  config.mutable_judge()->set_min_pairs(300);
  config.mutable_judge()->set_confidence(0.95);
  config.mutable_judge()->set_tolerance(0.001);
  config.mutable_judge()->set_relative_tolerance(0.5);
  config.mutable_judge()->set_warn_tolerance(0.05);
  auto warnings = ConfigWarnings("c.txtpb", config);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("c.txtpb: warning: judge.min_pairs is 300"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("about 2324 pairs"), std::string::npos) << warnings[0];
  config.mutable_judge()->set_min_pairs(3000);
  EXPECT_TRUE(ConfigWarnings("c.txtpb", config).empty());
  config.mutable_judge()->set_min_pairs(300);
  config.mutable_judge()->set_tolerance(0.02);
  EXPECT_TRUE(ConfigWarnings("c.txtpb", config).empty());
}

TEST_F(ConfigLoaderTest, ReportsMissingFile) {
  auto config = LoadConfig(dir_.path() / "absent.txtpb");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("absent.txtpb"), std::string::npos);
}

// Every example in configs/ loads: they are documentation that must stay true. The systemd
// units (.service, .socket) are the only files there that are not yoke configs; SystemdUnitTest
// checks them.
TEST(ConfigsFolderTest, EveryExampleConfigLoads) {
  int loaded = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(YOKE_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() == ".service" || entry.path().extension() == ".socket") continue;
    // prometheus/ and grafana/: checked by tests/supervisor/admin/metrics_test.cc.
    if (entry.is_directory()) continue;
    EXPECT_EQ(entry.path().extension(), ".txtpb") << "what is " << entry.path() << "?";
    if (entry.path().extension() != ".txtpb") continue;
    auto config = LoadConfig(entry.path());
    EXPECT_TRUE(config) << config.error().message();
    ++loaded;
  }
  EXPECT_GE(loaded, 3);
}

// configs/yoke@.service as systemd reads it: "Section.Key" -> every value given, in order.
// Comments, blank lines and continuation-free lines only, which is all the unit uses.
std::map<std::string, std::vector<std::string>> ReadUnit(const fs::path& path) {
  std::map<std::string, std::vector<std::string>> keys;
  std::string section, line;
  std::istringstream in(testing::ReadAll(path));
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    size_t eq = line.find('=');
    EXPECT_NE(eq, std::string::npos) << "not key=value: " << line;
    if (eq == std::string::npos) continue;
    keys[section + "." + line.substr(0, eq)].push_back(line.substr(eq + 1));
  }
  return keys;
}

const fs::path kUnit = fs::path(YOKE_SOURCE_DIR) / "configs" / "yoke@.service";
const fs::path kSocketUnit = fs::path(YOKE_SOURCE_DIR) / "configs" / "yoke@.socket";

// The socket unit holds the proxy's port (hello's `listen`), named "proxy" for LISTEN_FDNAMES,
// one socket for one yoke; the service reloads with SIGHUP.
TEST(SystemdUnitTest, SocketUnitHoldsTheProxyPort) {
  auto socket = ReadUnit(kSocketUnit);
  auto one = [&](const std::string& key) {
    auto it = socket.find(key);
    EXPECT_TRUE(it != socket.end() && it->second.size() == 1) << key << " missing or repeated";
    return it == socket.end() ? std::string("(missing)") : it->second.back();
  };
  auto hello = LoadConfig((fs::path(YOKE_SOURCE_DIR) / "configs" / "hello.txtpb").string());
  ASSERT_TRUE(hello);
  EXPECT_EQ(one("Socket.ListenStream"), hello->listen());
  EXPECT_EQ(one("Socket.FileDescriptorName"), "proxy");
  EXPECT_EQ(one("Socket.Accept"), "no");
  EXPECT_EQ(one("Install.WantedBy"), "sockets.target");
  auto service = ReadUnit(kUnit);
  ASSERT_EQ(service["Service.ExecReload"].size(), 1u);
  EXPECT_EQ(service["Service.ExecReload"][0], "/bin/kill -HUP $MAINPID");
}

// The unit runs `yoke run --config`, restarts on failure but not on a bad config or a held
// lock, stops yoke before its children, and carries the whole sandbox.
TEST(SystemdUnitTest, RunsYokeInAHardenedSandbox) {
  auto unit = ReadUnit(kUnit);
  auto one = [&](const std::string& key) {
    auto it = unit.find(key);
    EXPECT_TRUE(it != unit.end() && it->second.size() == 1) << key << " missing or repeated";
    return it == unit.end() ? std::string("(missing)") : it->second.back();
  };
  EXPECT_NE(one("Service.ExecStart").find("/yoke run --config /etc/yoke/%i.txtpb"),
            std::string::npos);
  EXPECT_EQ(one("Service.User"), "yoke");
  EXPECT_EQ(one("Service.Restart"), "on-failure");
  EXPECT_EQ(one("Service.RestartPreventExitStatus"), "2 3");
  EXPECT_EQ(one("Service.KillMode"), "mixed");
  for (const char* key : {"ProtectHome", "PrivateTmp", "NoNewPrivileges", "ProtectKernelTunables",
                          "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                          "RestrictSUIDSGID", "LockPersonality", "RestrictNamespaces"}) {
    EXPECT_EQ(one(std::string("Service.") + key), "yes") << key;
  }
  EXPECT_EQ(one("Service.ProtectSystem"), "strict");
  EXPECT_EQ(one("Service.ReadWritePaths"), "/srv/%i");
  EXPECT_EQ(one("Service.RestrictAddressFamilies"), "AF_INET AF_INET6 AF_UNIX");
  EXPECT_EQ(one("Service.CapabilityBoundingSet"), "");
  EXPECT_EQ(one("Install.WantedBy"), "multi-user.target");

  // systemd must outwait yoke's own shutdown: stop_grace_ms for the instances, plus 5 s.
  std::string timeout = one("Service.TimeoutStopSec");
  ASSERT_TRUE(timeout.ends_with("s")) << timeout;
  const int timeout_ms = std::stoi(timeout) * 1000;
  for (const auto& entry : fs::directory_iterator(fs::path(YOKE_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".txtpb") continue;
    auto config = LoadConfig(entry.path());
    ASSERT_TRUE(config);
    EXPECT_GT(timeout_ms, static_cast<int>(config->stop_grace_ms()) + 5000) << entry.path();
  }
}

// systemd itself accepts the unit, when systemd-analyze is installed. The copy names the yoke
// just built, since /usr/bin/yoke need not exist where the tests run.
TEST(SystemdUnitTest, PassesSystemdAnalyzeVerify) {
  fs::path analyze;
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
    if (fs::exists(fs::path(dir) / "systemd-analyze")) analyze = fs::path(dir) / "systemd-analyze";
  }
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze is not installed; verify skipped";
  testing::TempDir dir;
  std::string text = testing::ReadAll(kUnit);
  const std::string installed = "/usr/bin/yoke ";  // where the .deb puts it
  for (size_t at; (at = text.find(installed)) != std::string::npos;) {
    text.replace(at, installed.size(), testing::YokeBinary().string() + " ");
  }
  fs::path copy = dir.path() / "yoke@hello.service";
  testing::WriteAll(copy, text);
  // The socket unit beside it: verified together, as systemd loads them.
  fs::path socket = dir.path() / "yoke@hello.socket";
  testing::WriteAll(socket, testing::ReadAll(kSocketUnit));
  fs::path out = dir.path() / "verify.out";
  testing::Subprocess verify({analyze.string(), "verify", copy.string(), socket.string()}, out);
  auto status = verify.Wait(std::chrono::seconds(30));
  ASSERT_TRUE(status) << "systemd-analyze verify did not finish within 30 s";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << testing::ReadAll(out);
}

}  // namespace
}  // namespace yoke
