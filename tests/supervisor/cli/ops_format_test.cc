#include "supervisor/cli/ops_format.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace yoke {
namespace {

DecisionEntry Entry(const std::string& id, const std::string& text) {
  DecisionEntry e;
  e.id = id;
  e.path = "/srv/hello/decisions/" + id + ".txtpb";
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &e.decision)) << text;
  return e;
}

const char* kJudgeReject = R"pb(
  service: "hello"
  host: "web-3"
  from_version: "1.0.0"
  to_version: "2.0.0"
  verdict: REJECT
  time: "2026-11-22T03:10:55Z"
  author: "judge"
  window_s: 32
  pairs: 1200
  reason: "lost_routes: /lost: 5 of 200 answered 4xx where running answered 2xx/3xx"
  gates {
    name: "5xx"
    outcome: "pass"
    testing_count: 3
    testing_total: 1200
    running_count: 2
    running_total: 1200
    testing_rate: 0.0025
    running_rate: 0.001666
    margin: 0.01
    z: -3.2
    detail: "not worse"
  }
  gates {
    name: "lost_routes"
    outcome: "fail"
    testing_count: 5
    detail: "/lost: 5 of 200"
    culprits: "/lost"
    culprits: "/gone"
  }
  gates {
    name: "latency"
    outcome: "pass"
    testing_rate: 1.5
    running_rate: 1.25
    margin: 0
    detail: "mean testing 1.5 ms vs running 1.25 ms (reported, not a gate)"
  }
  lost_routes: "/lost"
  lost_routes: "/gone"
)pb";

// A judge rejection is summed up by its failing gate and culprits; anything else by its reason,
// on one line even when the reason has several.
TEST(OpsFormatTest, MainReasonNamesTheFailingGateOrTheReason) {
  EXPECT_EQ(DecisionMainReason(Entry("a", kJudgeReject).decision),
            "gate lost_routes failed: /lost, /gone");
  auto manual = Entry("b", R"(verdict: REJECT author: "ada" reason: "dashboards\nlook wrong")");
  EXPECT_EQ(DecisionMainReason(manual.decision), "dashboards look wrong");
  EXPECT_EQ(DecisionMainReason(Entry("c", "verdict: PROMOTE").decision), "(no reason recorded)");
}

// One line per decision, columns aligned, from -> to with "none" for an empty side.
TEST(OpsFormatTest, DecisionListIsOneAlignedLineEach) {
  std::string text = FormatDecisionList(
      {Entry("20261122T031055Z-1.0.0-to-2.0.0", kJudgeReject),
       Entry("20261122T020000Z-none-to-1.0.0",
             R"(to_version: "1.0.0" verdict: PIN time: "2026-11-22T02:00:00Z" author: "ada"
                reason: "incident 42")")});
  EXPECT_EQ(text,
            "20261122T031055Z-1.0.0-to-2.0.0  2026-11-22T03:10:55Z  REJECT  1.0.0 -> 2.0.0  judge  "
            "gate lost_routes failed: /lost, /gone\n"
            "20261122T020000Z-none-to-1.0.0   2026-11-22T02:00:00Z  PIN     none -> 1.0.0   ada    "
            "incident 42\n");
}

// The full view: header lines, then each gate as a table row with its figures; latency in ms.
TEST(OpsFormatTest, DecisionFullViewShowsHeaderGatesAndLostRoutes) {
  std::string text = FormatDecision(Entry("20261122T031055Z-1.0.0-to-2.0.0", kJudgeReject));
  EXPECT_NE(text.find("decision  20261122T031055Z-1.0.0-to-2.0.0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("verdict   REJECT\n"), std::string::npos) << text;
  EXPECT_NE(text.find("from      1.0.0 (running)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("service   hello on web-3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("window    32 s, 1200 pairs\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  gate         outcome  testing  rate     running  rate     margin  z "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  5xx          pass     3/1200   0.25%    2/1200   0.17%    1.00%   "
                      "-3.20  not worse\n"),
            std::string::npos)
      << text;
  // The detail column is as wide as the widest detail; culprits come last.
  size_t lost = text.find(
      "  lost_routes  fail     5        -        -        -        -       -  "
      "    /lost: 5 of 200  ");
  ASSERT_NE(lost, std::string::npos) << text;
  EXPECT_EQ(text.substr(text.find('\n', lost) - 12, 13), "/lost, /gone\n") << text;
  EXPECT_NE(text.find("  latency      pass     -        1.50 ms  -        1.25 ms  -"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("lost routes      /lost, /gone\nnew error kinds  none\nworse routes     none\n"),
      std::string::npos)
      << text;
}

// A decision without gates (by hand, or a crash) says so rather than printing an empty table.
TEST(OpsFormatTest, DecisionFullViewWithoutGates) {
  std::string text = FormatDecision(Entry("x", R"(verdict: SUPERSEDE reason: "superseded")"));
  EXPECT_NE(text.find("none recorded"), std::string::npos) << text;
  EXPECT_NE(text.find("from      none (running)"), std::string::npos) << text;
}

// Archives: version, human size, UTC date and file, newest first as given.
TEST(OpsFormatTest, ArchiveListing) {
  EXPECT_EQ(FormatArchiveList({}), "no archives\n");
  std::string text = FormatArchiveList({{"hello-1.0.0.2.zip", "1.0.0", 3 * 1024 * 1024 + 1, 0},
                                        {"hello-0.9.zip", "0.9", 512, 1795000000000000000}});
  EXPECT_EQ(text,
            "VERSION  SIZE     ARCHIVED              FILE\n"
            "1.0.0    3.0 MiB  1970-01-01T00:00:00Z  hello-1.0.0.2.zip\n"
            "0.9      512 B    2026-11-18T11:06:40Z  hello-0.9.zip\n");
}

// `archive show` groups the files: the artifact, then each instance with its record's summary
// and its files by kind; a record that did not parse is said so.
TEST(OpsFormatTest, ArchiveShowGroupsByInstance) {
  ArchiveContents c;
  c.row = {"hello-1.0.0.zip", "1.0.0", 2048, 0};
  c.path = "/srv/hello/archive/hello-1.0.0.zip";
  c.properties_name = "app.properties";
  c.entries = {{"1.0.0/", 0, false, true, ""},
               {"1.0.0/hello-1.0.0", 1500, false, false, ""},
               {"1.0.0/instances/0001-running/instance.txtpb", 300, false, false, ""},
               {"1.0.0/instances/0001-running/artifact", 0, true, false, "../../hello-1.0.0"},
               {"1.0.0/instances/0001-running/stdout", 80, false, false, ""},
               {"1.0.0/instances/0001-running/app.properties", 40, false, false, ""},
               {"1.0.0/instances/0001-running/logs/json/app.log", 4096, false, false, ""},
               {"1.0.0/instances/0002-testing/stderr", 10, false, false, ""}};
  InstanceRecord r;
  r.set_role("running");
  r.set_port(20001);
  r.set_started_at("2026-11-22T03:00:00Z");
  r.set_exit("exit code 0");
  c.records["0001-running"] = r;
  c.record_problems["0002-testing"] = "x.zip:instance.txtpb:1:1: bad";
  std::string text = FormatArchiveShow(c);
  EXPECT_NE(text.find("artifact\n  hello-1.0.0  1.5 KiB\n"), std::string::npos) << text;
  EXPECT_NE(text.find("instance 0001-running\n"
                      "  role running, port 20001, started 2026-11-22T03:00:00Z, exit code 0\n"
                      "  output      stdout             80 B\n"
                      "  log         logs/json/app.log  4.0 KiB\n"
                      "  properties  app.properties     40 B\n"
                      "  record      instance.txtpb     300 B\n"
                      "  link        artifact           -> ../../hello-1.0.0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("instance 0002-testing\n  instance.txtpb unreadable: x.zip:instance.txtpb:1:1"),
      std::string::npos)
      << text;
}

// /status JSON becomes a human view: roles, evidence counts per side, the judge against its
// minimums, and routes where testing did worse.
TEST(OpsFormatTest, StatusViewFromStatusJson) {
  std::string json = R"({"service":"hello","uptime_s":3725,
    "running":{"version":"1.0.0","up":true,"port":20001,"pid":41,"instance":1,"uptime_s":3700},
    "testing":{"version":"2.0.0","up":false,"port":20002,"pid":42,"instance":3},
    "proxy":{"requests":900,"responses":{"5xx":2},"upstream_unreachable":0,
             "upstream_timeouts":1,"bad_requests":0},
    "mirror":{"sent":800,"in_flight":1,"failed":0,"dropped":{"in_flight_limit":4,"body":1}},
    "evidence":{"candidate":"2.0.0",
      "total":{"pairs":800,"testing_5xx_running_not":7,"testing_4xx_running_ok":5,
               "testing_better":1,"testing_no_answer":2,"running_errors":3,"same_status":785},
      "routes":{"/lost":{"pairs":50,"testing_5xx_running_not":0,"testing_4xx_running_ok":5},
                "/ok":{"pairs":750,"testing_5xx_running_not":0,"testing_4xx_running_ok":0}}},
    "judge":{"verdict":"wait","reason":"window 20/60 s","window_s":20,"min_window_s":60,
             "pairs":800,"min_pairs":300,"promoting":""},
    "pinned":"","held":""})";
  auto text = FormatStatus(json);
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_NE(text->find("hello: yoke up 1h 02m\n"), std::string::npos) << *text;
  EXPECT_NE(text->find("running  1.0.0  instance 1  port 20001  pid 41  up 1h 01m\n"),
            std::string::npos)
      << *text;
  EXPECT_NE(text->find("testing  2.0.0  instance 3  port 20002  pid 42  down"), std::string::npos)
      << *text;
  EXPECT_NE(text->find("evidence for 2.0.0\n  same status  785 of the pairs\n"
                       "  running      5xx 3\n  testing      5xx where running was not 7, 4xx "
                       "where running was 2xx/3xx 5, no answer 2, better than running 1\n"),
            std::string::npos)
      << *text;
  EXPECT_NE(text->find("    /lost  50     0            5\n"), std::string::npos) << *text;
  EXPECT_EQ(text->find("/ok"), std::string::npos) << *text;
  EXPECT_NE(text->find("  reading      wait\n  reason       window 20/60 s\n"
                       "  window       20 s of 60 s minimum\n"
                       "  pairs        800 of 300 a clean pass needs\n"
                       "  still needs  no more pairs; about 40s at 40.0 pairs/s\n"),
            std::string::npos)
      << *text;
  EXPECT_NE(text->find("800 sent, 1 in flight, 0 failed, 5 dropped"), std::string::npos) << *text;
  EXPECT_EQ(text->find("  pairs    800"), std::string::npos) << *text;  // one pair count
  EXPECT_FALSE(FormatStatus("not json"));
  EXPECT_FALSE(FormatStatus("[1,2]"));
}

// The judge's line says what a clean pass still needs and when, at the window's rate; the gates
// carry their numbers; a decided window's pairs are not shown as live.
TEST(OpsFormatTest, StatusViewEstimatesACleanPass) {
  const std::string head = R"({"service":"hello","uptime_s":30,
    "testing":{"version":"2.0.0","up":true,"port":20002,"pid":42,"instance":1},
    "evidence":{"candidate":"2.0.0","total":{"pairs":324,"same_status":324}},)";
  auto text = FormatStatus(head + R"("judge":{"verdict":"wait","window_s":20,"min_window_s":60,
    "pairs":324,"min_pairs":300,"clean_pass_pairs":2324,
    "gates":[{"name":"5xx","outcome":"wait","testing_count":0,"testing_total":324,
              "running_count":0,"running_total":324,"margin":0.001,"z":-1.2,"adjusted_p":0.9}]}})");
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_NE(text->find("  pairs        324 of 2324 a clean pass needs (min_pairs 300)\n"
                       "  still needs  2000 pairs, about 2m 04s at 16.2 pairs/s\n"),
            std::string::npos)
      << *text;
  EXPECT_NE(text->find("  gates\n    gate  outcome  testing  running  margin  z      Holm p\n"
                       "    5xx   wait     0/324    0/324    0.10%   -1.20  0.9\n"),
            std::string::npos)
      << *text;
  auto decided = FormatStatus(head + R"("judge":{"verdict":"","min_window_s":60,
    "min_pairs":300}})");
  ASSERT_TRUE(decided) << decided.error().message();
  EXPECT_NE(decided->find("evidence\n  none: no candidate under test"), std::string::npos)
      << *decided;
  EXPECT_EQ(decided->find("324"), std::string::npos) << *decided;
  EXPECT_EQ(decided->find("still needs"), std::string::npos) << *decided;
}

// The meta section: the embedded default says so and shows no queue; a remote that does not
// answer, or commits it lacks, come first as a warning, with the last error.
TEST(OpsFormatTest, StatusViewShowsMeta) {
  const std::string head = R"({"service":"hello","uptime_s":5,"judge":{"verdict":""},)";
  auto embedded = FormatStatus(head + R"("meta":{"repository":"/srv/hello/meta","url":"",
    "channel_release":"","queued":0,"remote_ok":true,"commits":4,"pushes":0,"fetches":0,
    "fetch_failures":0,"push_failures":0,"bad_records":1,"candidates_offered":0,
    "artifact_failures":0,"last_error":""}})");
  ASSERT_TRUE(embedded) << embedded.error().message();
  EXPECT_NE(
      embedded->find("\nmeta\n"
                     "  repository  /srv/hello/meta\n"
                     "  remote      none (embedded)\n"
                     "  channel     points at no release\n"
                     "  commits     4 made\n"
                     "  records     1 bad (skipped), 0 releases offered, 0 artifact failures\n"),
      std::string::npos)
      << *embedded;
  EXPECT_EQ(embedded->find("warning"), std::string::npos) << *embedded;
  EXPECT_EQ(embedded->find("last error"), std::string::npos) << *embedded;

  auto unreachable = FormatStatus(head + R"("meta":{"repository":"/srv/hello/meta",
    "url":"https://git.example.com/ops/meta.git","channel_release":"2.1.0","queued":3,
    "remote_ok":false,"commits":12,"pushes":9,"fetches":40,"fetch_failures":2,
    "push_failures":1,"bad_records":0,"candidates_offered":2,"artifact_failures":1,
    "last_error":"cannot fetch: connection refused\nretrying"}})");
  ASSERT_TRUE(unreachable) << unreachable.error().message();
  EXPECT_NE(unreachable->find(
                "\nmeta\n"
                "  warning     the remote is unreachable; 3 commits are not on the remote yet\n"
                "  repository  /srv/hello/meta\n"
                "  remote      https://git.example.com/ops/meta.git (unreachable: 2 of 40 "
                "fetches failed)\n"
                "  channel     release 2.1.0\n"
                "  commits     12 made, 9 pushes, 3 queued\n"
                "  records     0 bad (skipped), 2 releases offered, 1 artifact failures\n"
                "  last error  cannot fetch: connection refused retrying\n"),
            std::string::npos)
      << *unreachable;

  auto answering = FormatStatus(head + R"("meta":{"url":"/srv/meta.git","remote_ok":true,
    "queued":0,"commits":1,"pushes":1}})");
  ASSERT_TRUE(answering);
  EXPECT_NE(answering->find("  remote      /srv/meta.git (answers)\n"), std::string::npos)
      << *answering;
  EXPECT_EQ(answering->find("warning"), std::string::npos) << *answering;

  // No "meta" object: turned off in the config, or `yoke proxy` (no judge), which says nothing.
  EXPECT_NE(FormatStatus(head + R"("pinned":""})")->find("\nmeta\n  off"), std::string::npos);
  EXPECT_EQ(FormatStatus(R"({"service":"p"})")->find("meta"), std::string::npos);
}

// A newer yoke's /status still reads: keys this schema does not know are ignored. A known key
// holding the wrong type does not read.
TEST(OpsFormatTest, StatusViewIgnoresUnknownKeys) {
  auto text = FormatStatus(R"({"service":"hello","uptime_s":5,"new_section":{"x":[1,2]},
    "judge":{"verdict":"wait","window_s":3,"min_window_s":60,"new_gate_field":true}})");
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_NE(text->find("  reading      wait\n  window       3 s of 60 s minimum\n"),
            std::string::npos)
      << *text;
  EXPECT_FALSE(FormatStatus(R"({"service":"hello","uptime_s":"soon"})"));
  // Numbers out of range are shown clamped, not converted blindly.
  auto huge = FormatStatus(R"({"service":"hello","uptime_s":1e300,
    "running":{"version":"1.0.0","up":true,"uptime_s":-5}})");
  ASSERT_TRUE(huge) << huge.error().message();
  EXPECT_NE(huge->find("up 0s"), std::string::npos) << *huge;
}

// With no yoke answering, the base folder's view: links, records, the journal.
TEST(OpsFormatTest, BaseViewWhenYokeIsNotRunning) {
  BaseView view;
  view.base = "/srv/hello";
  InstanceRecord r;
  r.set_version("1.0.0");
  r.set_port(20001);
  r.set_pid(41);
  view.roles.push_back({"running", "0001-running", r, "signal 15 (Terminated)", ""});
  view.roles.push_back({"testing", "", std::nullopt, "", ""});
  Journal j;
  j.mutable_running()->set_version("1.0.0");
  j.mutable_running()->set_number(1);
  j.set_pinned("1.0.0");
  view.journal = j;
  std::string text = FormatBaseView(view);
  EXPECT_EQ(text,
            "base /srv/hello\n"
            "running  1.0.0  instance 0001-running  port 20001  pid 41  signal 15 (Terminated)\n"
            "testing  none (no link)\n"
            "\njournal (what the next yoke run starts again)\n"
            "  running  1.0.0 (instance 1)\n  testing  none\n  pinned   1.0.0\n");
}

TEST(OpsFormatTest, HumanUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanDuration(59), "59s");
  EXPECT_EQ(HumanDuration(61), "1m 01s");
  EXPECT_EQ(HumanDuration(90061), "1d 01h");
  EXPECT_EQ(UtcText(1795000000000000000), "2026-11-18T11:06:40Z");
}

}  // namespace
}  // namespace yoke
