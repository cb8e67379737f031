#include "core/prometheus.h"

#include <gtest/gtest.h>

#include <array>

namespace yoke {
namespace {

// A counter without labels is its HELP, its TYPE and one sample.
TEST(PrometheusTest, WritesOneCounter) {
  PrometheusText out;
  out.Counter("yoke_requests_total", "Requests received.", uint64_t{42});
  EXPECT_EQ(out.Text(),
            "# HELP yoke_requests_total Requests received.\n"
            "# TYPE yoke_requests_total counter\n"
            "yoke_requests_total 42\n");
}

// Several label sets of one family share one HELP and TYPE, and a family's samples stay
// together even when another family's sample was added in between.
TEST(PrometheusTest, OneHelpAndTypePerFamily) {
  PrometheusText out;
  out.Gauge("yoke_up", "Whether a role is up.", 1, {{"role", "running"}, {"version", "1.0.0"}});
  out.Counter("yoke_other_total", "Another family.", 7);
  out.Gauge("yoke_up", "Whether a role is up.", 0, {{"role", "testing"}, {"version", ""}});
  EXPECT_EQ(out.Text(),
            "# HELP yoke_up Whether a role is up.\n"
            "# TYPE yoke_up gauge\n"
            "yoke_up{role=\"running\",version=\"1.0.0\"} 1\n"
            "yoke_up{role=\"testing\",version=\"\"} 0\n"
            "# HELP yoke_other_total Another family.\n"
            "# TYPE yoke_other_total counter\n"
            "yoke_other_total 7\n");
}

// Label values escape backslash, double quote and newline; help text escapes backslash and
// newline only.
TEST(PrometheusTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(PrometheusEscapeLabel("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(PrometheusEscapeLabel("plain 1.0.0"), "plain 1.0.0");
  PrometheusText out;
  out.Gauge("yoke_x", "Say \"hi\"\\\nthen go.", 2, {{"version", "1\"\n"}});
  EXPECT_EQ(out.Text(),
            "# HELP yoke_x Say \"hi\"\\\\\\nthen go.\n"
            "# TYPE yoke_x gauge\n"
            "yoke_x{version=\"1\\\"\\n\"} 2\n");
}

// Integers print exactly, doubles in their shortest form.
TEST(PrometheusTest, FormatsValues) {
  PrometheusText out;
  out.Gauge("a", "A.", uint64_t{18446744073709551615u});
  out.Gauge("b", "B.", 0.25);
  out.Gauge("c", "C.", 3.0);
  EXPECT_NE(out.Text().find("\na 18446744073709551615\n"), std::string::npos) << out.Text();
  EXPECT_NE(out.Text().find("\nb 0.25\n"), std::string::npos) << out.Text();
  EXPECT_NE(out.Text().find("\nc 3\n"), std::string::npos) << out.Text();
}

// A histogram's buckets are cumulative and end with +Inf, then _sum and _count.
TEST(PrometheusTest, WritesHistogramCumulatively) {
  PrometheusText out;
  constexpr std::array<double, 2> kBounds = {0.0005, 2.5};
  constexpr std::array<uint64_t, 3> kCounts = {1, 2, 3};
  out.Histogram("yoke_latency_seconds", "Latency.", kBounds, kCounts, 12.5, 6);
  EXPECT_EQ(out.Text(),
            "# HELP yoke_latency_seconds Latency.\n"
            "# TYPE yoke_latency_seconds histogram\n"
            "yoke_latency_seconds_bucket{le=\"0.0005\"} 1\n"
            "yoke_latency_seconds_bucket{le=\"2.5\"} 3\n"
            "yoke_latency_seconds_bucket{le=\"+Inf\"} 6\n"
            "yoke_latency_seconds_sum 12.5\n"
            "yoke_latency_seconds_count 6\n");
}

// A labelled histogram carries its labels on every series, `le` last; two roles share one family.
TEST(PrometheusTest, WritesLabelledHistogramsAsOneFamily) {
  PrometheusText out;
  constexpr std::array<double, 1> kBounds = {0.1};
  constexpr std::array<uint64_t, 2> kCounts = {1, 2};
  out.Histogram("yoke_latency_seconds", "Latency.", kBounds, kCounts, 1.5, 3,
                {{"role", "running"}});
  out.Histogram("yoke_latency_seconds", "Latency.", kBounds, kCounts, 2.5, 3,
                {{"role", "testing"}});
  EXPECT_EQ(out.Text(),
            "# HELP yoke_latency_seconds Latency.\n"
            "# TYPE yoke_latency_seconds histogram\n"
            "yoke_latency_seconds_bucket{role=\"running\",le=\"0.1\"} 1\n"
            "yoke_latency_seconds_bucket{role=\"running\",le=\"+Inf\"} 3\n"
            "yoke_latency_seconds_sum{role=\"running\"} 1.5\n"
            "yoke_latency_seconds_count{role=\"running\"} 3\n"
            "yoke_latency_seconds_bucket{role=\"testing\",le=\"0.1\"} 1\n"
            "yoke_latency_seconds_bucket{role=\"testing\",le=\"+Inf\"} 3\n"
            "yoke_latency_seconds_sum{role=\"testing\"} 2.5\n"
            "yoke_latency_seconds_count{role=\"testing\"} 3\n");
}

}  // namespace
}  // namespace yoke
