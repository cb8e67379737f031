// /metrics as Prometheus scrapes it (status_report.h), and the alert rules and the Grafana
// dashboard shipped in configs/, which may only query metric names yoke exports.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "google/protobuf/text_format.h"
#include "supervisor/admin/status_report.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// Every section of /metrics filled: the supervisor with decisions, a judge with an open window,
// meta with a remote, the image and the process.
StatusInputs FullInputs() {
  StatusInputs in;
  in.service = "hello";
  StatusReport part;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        running { version: "1.0.0" up: true }
        testing { version: "2.0.0" up: true }
        judge {
          verdict: "wait"
          window_s: 42
          pairs: 120
          min_pairs: 300
          min_window_s: 60
          max_window_s: 1800
        }
        supervisor {
          decisions { verdict: "promote" by: "yoke" count: 3 }
          decisions { verdict: "reject" by: "operator" count: 1 }
        }
      )pb",
      &part));
  in.supervisor = part;
  MetaStatus meta;
  meta.set_url("https://git.example/meta.git");
  meta.set_remote_ok(true);
  in.meta = meta;
  ImageStatus image;
  image.set_yoke_version("0.1.0");
  in.image = image;
  in.build_githash = "abc123";
  ProcessMetrics process;
  process.cpu_seconds = 1.5;
  process.resident_bytes = 1 << 20;
  process.open_fds = 12;
  process.max_fds = 1024;
  process.start_time_seconds = 1.7e9;
  in.process = process;
  return in;
}

// The names a query may use: each family, and a histogram's _bucket, _sum and _count.
std::set<std::string> ExportedNames(const std::string& metrics) {
  std::set<std::string> names;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("# TYPE ")) continue;
    std::istringstream words(line.substr(7));
    std::string name, type;
    words >> name >> type;
    names.insert(name);
    if (type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
    }
  }
  return names;
}

// Metric names in a PromQL expression: words starting yoke_ or process_ (label names and
// functions never do).
std::vector<std::string> QueriedNames(const std::string& expr) {
  std::vector<std::string> out;
  static const std::regex kName(R"(\b(?:yoke|process)_[a-zA-Z0-9_]*)");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kName);
       it != std::sregex_iterator(); ++it) {
    out.push_back(it->str());
  }
  return out;
}

std::string ReadSource(const fs::path& relative) {
  std::ifstream in(fs::path(YOKE_SOURCE_DIR) / relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The families the issue asks for are there, with the labels it asks for.
TEST(MetricsTest, ExportsDecisionsBuildJudgeAndProcessFamilies) {
  const std::string metrics = MetricsText(FullInputs());
  for (const char* sample : {
           "yoke_decisions_total{verdict=\"promote\",by=\"yoke\"} 3",
           "yoke_decisions_total{verdict=\"reject\",by=\"operator\"} 1",
           "yoke_build_info{version=\"0.1.0\",githash=\"abc123\"} 1",
           "yoke_judge_state{state=\"wait\"} 1",
           "yoke_judge_state{state=\"promote\"} 0",
           "yoke_judge_window_seconds 42",
           "yoke_judge_window_pairs 120",
           "yoke_judge_max_window_seconds 1800",
           "yoke_up{role=\"running\"} 1",
           "yoke_version_info{role=\"testing\",version=\"2.0.0\"} 1",
           "yoke_meta_remote_up 1",
           "process_cpu_seconds_total 1.5",
           "process_resident_memory_bytes 1048576",
           "process_open_fds 12",
           "process_max_fds 1024",
           "process_start_time_seconds 1700000000",
           "yoke_proxy_latency_seconds_bucket{role=\"running\",le=\"+Inf\"} 0",
           "yoke_proxy_latency_seconds_count{role=\"testing\"} 0",
       }) {
    EXPECT_NE(metrics.find(std::string("\n") + sample + "\n"), std::string::npos) << sample << "\n"
                                                                                  << metrics;
  }
  EXPECT_EQ(metrics.find("yoke_proxy_running_latency_seconds"), std::string::npos);
}

// A label whose value changes with every release (version, githash) is only on *_info metrics,
// so a release does not start new series for the others.
TEST(MetricsTest, ReleaseLabelsOnlyOnInfoMetrics) {
  std::istringstream lines(MetricsText(FullInputs()));
  int checked = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.starts_with("#")) continue;
    const std::string name = line.substr(0, line.find_first_of("{ "));
    if (line.find("version=\"") != std::string::npos ||
        line.find("githash=\"") != std::string::npos) {
      EXPECT_TRUE(name.ends_with("_info")) << line;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3);  // build_info and two version_info
}

// Without a remote (meta embedded in the base) there is nothing to be up: no yoke_meta_remote_up.
TEST(MetricsTest, RemoteUpOnlyWithARemote) {
  StatusInputs in = FullInputs();
  in.meta->set_url("");
  const std::string metrics = MetricsText(in);
  EXPECT_EQ(metrics.find("yoke_meta_remote_up"), std::string::npos);
  EXPECT_NE(metrics.find("yoke_meta_queued"), std::string::npos);
}

// With no candidate the judge is idle and the window gauges are 0.
TEST(MetricsTest, JudgeIdleWithoutACandidate) {
  StatusInputs in;
  StatusReport part;
  part.mutable_running()->set_version("1.0.0");
  in.supervisor = part;
  const std::string metrics = MetricsText(in);
  EXPECT_NE(metrics.find("yoke_judge_state{state=\"idle\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("yoke_judge_window_seconds 0\n"), std::string::npos);
}

// configs/grafana/yoke.json is JSON, a dashboard with panels, and every query in it names only
// metrics /metrics exports.
TEST(DashboardTest, QueriesOnlyExportedMetrics) {
  const std::set<std::string> exported = ExportedNames(MetricsText(FullInputs()));
  boost::system::error_code ec;
  json::value dashboard = json::parse(ReadSource("configs/grafana/yoke.json"), ec);
  ASSERT_FALSE(ec) << "configs/grafana/yoke.json: " << ec.message();
  ASSERT_TRUE(dashboard.is_object());
  ASSERT_TRUE(dashboard.as_object().contains("panels"));
  int queries = 0;
  std::set<std::string> used;
  std::function<void(const json::value&)> walk = [&](const json::value& v) {
    if (const auto* o = v.if_object()) {
      for (const auto& [key, value] : *o) {
        if (key == "expr" && value.is_string()) {
          ++queries;
          for (const std::string& name : QueriedNames(std::string(value.get_string()))) {
            used.insert(name);
            EXPECT_TRUE(exported.contains(name)) << name << " in " << value.get_string();
          }
        } else {
          walk(value);
        }
      }
    } else if (const auto* a = v.if_array()) {
      for (const auto& item : *a) walk(item);
    }
  };
  walk(dashboard);
  EXPECT_GE(queries, 10);
  // The dashboard shows what the issue names.
  for (const char* name :
       {"yoke_decisions_total", "yoke_judge_state", "yoke_judge_window_pairs",
        "yoke_proxy_latency_seconds_bucket", "process_resident_memory_bytes", "yoke_meta_queued"}) {
    EXPECT_TRUE(used.contains(name)) << name;
  }
}

// Every alert rule's expression (one line each, `expr:`) names only exported metrics;
// `promtool check rules` checks the file's form (PromtoolCheckRules in ctest).
TEST(AlertRulesTest, QueryOnlyExportedMetrics) {
  const std::set<std::string> exported = ExportedNames(MetricsText(FullInputs()));
  std::istringstream lines(ReadSource("configs/prometheus/yoke-alerts.yml"));
  int rules = 0;
  std::set<std::string> alerts;
  for (std::string line; std::getline(lines, line);) {
    if (auto at = line.find("- alert: "); at != std::string::npos) {
      alerts.insert(line.substr(at + 9));
    }
    auto at = line.find("expr: ");
    if (at == std::string::npos) continue;
    ++rules;
    const std::string expr = line.substr(at + 6);
    EXPECT_NE(expr, "|") << "keep each expr on one line";
    for (const std::string& name : QueriedNames(expr)) {
      EXPECT_TRUE(exported.contains(name)) << name << " in " << expr;
    }
  }
  for (const char* alert :
       {"YokeCandidateRejected", "YokeCrashLoop", "YokeMetaQueueGrowing",
        "YokeMetaRemoteUnreachable", "YokeDiskBudgetNear", "YokeJudgeStuckAtMaxWindow"}) {
    EXPECT_TRUE(alerts.contains(alert)) << alert;
  }
  EXPECT_EQ(rules, static_cast<int>(alerts.size()));
}

}  // namespace
}  // namespace yoke
