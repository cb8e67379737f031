#include "supervisor/admin/status_report.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/record_text.h"

namespace yoke {
namespace {

namespace json = boost::json;

// The supervisor's part of /status (Supervisor::Snapshot), from text.
StatusReport SupervisorPart(const std::string& text) {
  StatusReport part;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &part)) << text;
  return part;
}

// /status carries what the status page shows: error rates per side, the judge's reading with
// its gates, log evidence with new error kinds, and the newest decisions.
TEST(StatusReportTest, StatusJsonCarriesWhatThePageShows) {
  StatusInputs in;
  in.service = "hello";
  // A route gate for /a, and one for /gone, a route the window no longer holds.
  in.supervisor = SupervisorPart(R"pb(
    running { version: "1.0.0" }
    testing { version: "2.0.0" }
    judge {
      verdict: "wait"
      window_s: 12
      min_window_s: 60
      gates { name: "5xx" outcome: "pass" detail: "fine" }
    }
    evidence {
      logs {
        running { errors: 1 warnings: 2 requests: 300 }
        testing { errors: 4 warnings: 5 requests: 290 }
        new_error_kinds { kind: "db: timeout" count: 7 }
        new_error_kinds { kind: "cache: miss" count: 1 }
      }
      routes {
        key: "/a"
        value { judge_5xx { outcome: "wait" testing_count: 1 testing_total: 2 } }
      }
      routes {
        key: "/gone"
        value { judge_5xx { outcome: "pass" } }
      }
    }
  )pb");
  auto pair = [](int running, int testing) {
    Pair p;
    p.route = "/a";
    p.running_status = running;
    p.testing_status = testing;
    return p;
  };
  in.pairs.Add(pair(200, 500));
  in.pairs.Add(pair(404, 404));
  DecisionEntry decision;
  decision.id = "20260101T000001Z-1.0.0-to-2.0.0";
  decision.decision.set_verdict(Verdict::REJECT);
  decision.decision.set_to_version("2.0.0");
  decision.decision.set_reason("lost /a");
  DecisionEntry bad;
  bad.id = "20260101T000000Z-bad";
  bad.problem = "2:1: nope";
  in.decisions.entries = {decision, bad};
  in.decisions.total = 5;

  json::object s = json::parse(StatusJson(in)).as_object();
  const auto& total = s.at("evidence").at("total");
  EXPECT_EQ(total.at("pairs").to_number<uint64_t>(), 2u);
  EXPECT_EQ(total.at("testing_errors").to_number<uint64_t>(), 1u);
  EXPECT_EQ(total.at("running_4xx").to_number<uint64_t>(), 1u);
  EXPECT_EQ(total.at("testing_4xx").to_number<uint64_t>(), 1u);
  const auto& routes = s.at("evidence").at("routes").as_object();
  EXPECT_EQ(routes.at("/a").at("testing_5xx_running_not").to_number<uint64_t>(), 1u);
  EXPECT_EQ(routes.at("/a").at("judge_5xx").at("testing_total").to_number<uint64_t>(), 2u);
  EXPECT_FALSE(routes.contains("/gone"));
  const auto& logs = s.at("evidence").at("logs");
  EXPECT_EQ(logs.at("testing").at("errors").to_number<uint64_t>(), 4u);
  EXPECT_EQ(logs.at("running").at("requests").to_number<uint64_t>(), 300u);
  EXPECT_EQ(logs.at("new_error_kinds").at(0).at("kind").as_string(), "db: timeout");
  EXPECT_EQ(s.at("judge").at("gates").at(0).at("outcome").as_string(), "pass");
  const auto& decisions = s.at("decisions");
  EXPECT_EQ(decisions.at("total").to_number<uint64_t>(), 5u);
  EXPECT_EQ(decisions.at("recent").at(0).at("verdict").as_string(), "REJECT");
  EXPECT_EQ(decisions.at("recent").at(0).at("id").as_string(), decision.id);
  EXPECT_EQ(decisions.at("recent").at(1).at("error").as_string(), "2:1: nope");
}

// Log lines the judge cannot use are visible per role, in /status and in /metrics.
TEST(StatusReportTest, UnusableLogLinesAreCountedPerRole) {
  StatusInputs in;
  in.supervisor = SupervisorPart(R"pb(
    running { version: "1.0.0" }
    testing {
      version: "2.0.0"
      log_lines { read: 10 not_json: 3 no_level: 2 }
    }
  )pb");
  json::object s = json::parse(StatusJson(in)).as_object();
  const auto& lines = s.at("testing").at("log_lines");
  EXPECT_EQ(lines.at("read").to_number<uint64_t>(), 10u);
  EXPECT_EQ(lines.at("not_json").to_number<uint64_t>(), 3u);
  EXPECT_EQ(lines.at("no_level").to_number<uint64_t>(), 2u);
  std::string metrics = MetricsText(in);
  EXPECT_NE(metrics.find("yoke_log_lines_unusable{role=\"testing\",kind=\"not_json\"} 3"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("yoke_log_lines_unusable{role=\"running\",kind=\"no_level\"} 0"),
            std::string::npos);
}

// /status reads back through its schema to the message the admin API built: what `yoke status`
// parses is what was written.
TEST(StatusReportTest, StatusJsonReadsBackThroughTheSchema) {
  StatusInputs in;
  in.service = "hello";
  in.supervisor = SupervisorPart(R"pb(
    running { version: "1.0.0" up: true uptime_s: 30 }
    judge { gates { name: "5xx" outcome: "wait" detail: "3 of 300 pairs" } }
    pinned: "1.0.0"
  )pb");
  MetaStatus meta;
  meta.set_repository("/srv/meta");
  meta.set_queued(2);
  in.meta = meta;
  StatusReport written = BuildStatusReport(in);
  StatusReport read;
  ASSERT_TRUE(ParseJsonRecord("/status", StatusJson(in), &read));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(written, read))
      << written.DebugString() << "\n"
      << read.DebugString();
  EXPECT_FALSE(read.has_testing());
  EXPECT_EQ(read.meta().queued(), 2);
}

// Under `yoke proxy` a role is its upstream only (no "up", so the page says "upstream"), an
// empty role and the supervisor's sections are left out, and counts are JSON numbers.
TEST(StatusReportTest, ProxyModeShowsUpstreamsOnly) {
  StatusInputs in;
  in.service = "p";
  Upstream upstream;
  upstream.port = 8080;
  in.upstreams.running = upstream;
  json::object s = json::parse(StatusJson(in)).as_object();
  EXPECT_EQ(json::serialize(s.at("running")), R"({"version":"","port":8080,"host":"127.0.0.1"})");
  for (const char* key :
       {"testing", "judge", "decisions", "pinned", "held", "supervisor", "meta"}) {
    EXPECT_FALSE(s.contains(key)) << key;
  }
  EXPECT_TRUE(s.at("proxy").at("responses").at("5xx").is_number());
  EXPECT_TRUE(s.at("evidence").at("total").at("testing_errors").is_number());
}

// A route that is not UTF-8 (request targets may hold any byte) is still in /status, each bad
// byte shown as U+FFFD.
TEST(StatusReportTest, RoutesThatAreNotUtf8AreReplaced) {
  StatusInputs in;
  Pair p;
  p.route = "/caf\xC3\xA9/\xFF\xC0\xAF";  // \xC0\xAF: an overlong '/'
  p.running_status = 200;
  p.testing_status = 200;
  in.pairs.Add(p);
  json::object s = json::parse(StatusJson(in)).as_object();
  EXPECT_TRUE(s.at("evidence")
                  .at("routes")
                  .as_object()
                  .contains("/caf\xC3\xA9/\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"))
      << StatusJson(in);
}

}  // namespace
}  // namespace yoke
