#include "supervisor/admin/status_report.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/record_text.h"

namespace yoke {
namespace {

namespace json = boost::json;

// /status carries what the status page shows: error rates per side, the judge's reading with
// its gates, log evidence with new error kinds, and the newest decisions.
TEST(StatusReportTest, StatusJsonCarriesWhatThePageShows) {
  StatusInputs in;
  in.service = "hello";
  SupervisorSnapshot snap;
  snap.running.version = "1.0.0";
  snap.testing.version = "2.0.0";
  snap.judge_verdict = "wait";
  snap.window_s = 12;
  snap.min_window_s = 60;
  snap.running_logs = {1, 2, 300};
  snap.testing_logs = {4, 5, 290};
  snap.new_error_kinds = {{"db: timeout", 7}, {"cache: miss", 1}};
  snap.judge_gates = {{"5xx", "pass", "fine"}};
  in.supervisor = snap;
  auto pair = [](int running, int testing) {
    Pair p;
    p.route = "/a";
    p.running_status = running;
    p.testing_status = testing;
    return p;
  };
  in.pairs.Add(pair(200, 500));
  in.pairs.Add(pair(404, 404));
  DecisionSummary decision;
  decision.id = "20260101T000001Z-1.0.0-to-2.0.0";
  decision.record.set_verdict(Verdict::REJECT);
  decision.record.set_to_version("2.0.0");
  decision.record.set_reason("lost /a");
  in.decisions = {5, {decision, {"20260101T000000Z-bad", {}, "2:1: nope"}}};

  json::object s = json::parse(StatusJson(in)).as_object();
  const auto& total = s.at("evidence").at("total");
  EXPECT_EQ(total.at("pairs").to_number<uint64_t>(), 2u);
  EXPECT_EQ(total.at("testing_errors").to_number<uint64_t>(), 1u);
  EXPECT_EQ(total.at("running_4xx").to_number<uint64_t>(), 1u);
  EXPECT_EQ(total.at("testing_4xx").to_number<uint64_t>(), 1u);
  EXPECT_EQ(
      s.at("evidence").at("routes").at("/a").at("testing_5xx_running_not").to_number<uint64_t>(),
      1u);
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
  SupervisorSnapshot snap;
  snap.running.version = "1.0.0";
  snap.testing.version = "2.0.0";
  snap.testing.log_lines = 10;
  snap.testing.log_lines_not_json = 3;
  snap.testing.log_lines_no_level = 2;
  in.supervisor = snap;
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
  SupervisorSnapshot snap;
  snap.running.version = "1.0.0";
  snap.running.up = true;
  snap.running.uptime_s = 30;
  snap.judge_gates = {{"5xx", "wait", "3 of 300 pairs"}};
  snap.pinned = "1.0.0";
  in.supervisor = snap;
  meta::MetaSnapshot meta;
  meta.repository = "/srv/meta";
  meta.queued = 2;
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
