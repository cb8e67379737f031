#include "supervisor/admin/history_report.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/fakes/process_harness.h"

namespace yoke {
namespace {

namespace json = boost::json;

// A reading takes the window's counts and the proxy's histograms as they are; the JSON gives
// null for a latency nobody measured.
TEST(HistoryReportTest, ReadingsAndTheirJson) {
  StatusHistory history(10, LatencyBounds());
  PairCounts window;
  window.pairs = 200;
  window.testing_errors = 4;
  proxy::ProxyStats stats;
  stats.running_latency.counts[3] = 10;  // 2.5..5 ms
  HistoryReading r = HistoryReadingOf("2.0.0", window, stats, 1'000);
  EXPECT_EQ(r.running_buckets.size(), proxy::kLatencyBuckets.size() + 1);
  history.Add(r);
  json::value v = json::parse(HistoryJson(history, kHistoryInterval));
  EXPECT_EQ(v.at("interval_s").to_number<int>(), 2);
  EXPECT_EQ(v.at("capacity").to_number<int>(), 10);
  const json::value& p = v.at("points").as_array().at(0);
  EXPECT_EQ(p.at("t").to_number<int>(), 1000);
  EXPECT_EQ(p.at("candidate").as_string(), "2.0.0");
  EXPECT_DOUBLE_EQ(p.at("testing_error_rate").to_number<double>(), 0.02);
  EXPECT_NEAR(p.at("running_p50_ms").to_number<double>(), 3.75, 1e-9);
  EXPECT_TRUE(p.at("testing_p50_ms").is_null());
}

// The timeline: newest first as given, a release's sources looked up once per version.
TEST(HistoryReportTest, TimelineWithSources) {
  DecisionListing listing;
  for (const char* to : {"2.0.0", "2.0.0", "1.0.0"}) {
    DecisionEntry e;
    e.id = std::string("x-to-") + to;
    e.decision.set_to_version(to);
    e.decision.set_verdict(Verdict::PROMOTE);
    e.decision.set_time("2026-11-30T04:00:00Z");
    listing.entries.push_back(e);
  }
  listing.total = 40;
  int looks = 0;
  json::value v = json::parse(TimelineJson(listing, [&looks](const std::string& version) {
    ++looks;
    return version == "2.0.0" ? std::string("git@x:app.git=abc123") : std::string();
  }));
  EXPECT_EQ(looks, 2);
  EXPECT_EQ(v.at("total").to_number<int>(), 40);
  const json::array& list = v.at("decisions").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("sources").as_string(), "git@x:app.git=abc123");
  EXPECT_EQ(list[0].at("verdict").as_string(), "PROMOTE");
  EXPECT_FALSE(list[2].as_object().contains("sources"));
}

// The sampler adds a reading at once and then every interval, and stops promptly when
// destroyed.
TEST(HistoryReportTest, SamplerAddsReadingsUntilDestroyed) {
  StatusHistory history(100, LatencyBounds());
  std::atomic<int> reads{0};
  {
    HistorySampler sampler(
        &history,
        [&reads] {
          HistoryReading r;
          r.unix_ms = ++reads;
          return r;
        },
        std::chrono::milliseconds(10));
    EXPECT_TRUE(
        testing::WaitUntil([&] { return history.Points().size() >= 3; }, std::chrono::seconds(10)));
  }
  const size_t after = history.Points().size();
  EXPECT_EQ(static_cast<size_t>(reads.load()), after);
}

}  // namespace
}  // namespace yoke
