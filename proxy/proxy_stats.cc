#include "proxy/proxy_stats.h"

#include <fmt/format.h>

namespace yoke::proxy {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

void RenderHistogram(std::string& out, const char* name, const char* help,
                     const HistogramSnapshot& h) {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += h.counts[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kLatencyBuckets[i], cumulative);
  }
  cumulative += h.counts.back();
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, cumulative,
                     name, h.sum_seconds, name, h.count);
}

void RenderCounter(std::string& out, const char* name, const char* help, uint64_t value,
                   const char* type = "counter") {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

}  // namespace

void Histogram::Observe(std::chrono::microseconds latency) {
  double seconds = latency.count() / 1e6;
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  counts_[i].fetch_add(1, kRelaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, latency.count())), kRelaxed);
}

HistogramSnapshot Histogram::Snapshot() const {
  HistogramSnapshot s;
  for (size_t i = 0; i < counts_.size(); ++i) {
    s.counts[i] = counts_[i].load(kRelaxed);
    s.count += s.counts[i];
  }
  s.sum_seconds = sum_us_.load(kRelaxed) / 1e6;
  return s;
}

void ProxyCounters::CountResponse(unsigned status) {
  unsigned cls = status / 100;
  if (cls >= 1 && cls <= 5) responses_by_class[cls].fetch_add(1, kRelaxed);
}

void ProxyCounters::CountDrop(MirrorDrop reason) {
  mirror_dropped[static_cast<size_t>(reason)].fetch_add(1, kRelaxed);
}

ProxyStats ProxyCounters::Snapshot() const {
  ProxyStats s;
  s.connections_accepted = connections_accepted.load(kRelaxed);
  s.connections_open = connections_open.load(kRelaxed);
  s.connections_refused = connections_refused.load(kRelaxed);
  s.requests = requests.load(kRelaxed);
  for (size_t i = 0; i < s.responses_by_class.size(); ++i) {
    s.responses_by_class[i] = responses_by_class[i].load(kRelaxed);
  }
  s.bad_requests = bad_requests.load(kRelaxed);
  s.too_large = too_large.load(kRelaxed);
  s.headers_too_large = headers_too_large.load(kRelaxed);
  s.upstream_unreachable = upstream_unreachable.load(kRelaxed);
  s.upstream_timeouts = upstream_timeouts.load(kRelaxed);
  s.client_timeouts = client_timeouts.load(kRelaxed);
  s.mirror_sent = mirror_sent.load(kRelaxed);
  s.mirror_in_flight = mirror_in_flight.load(kRelaxed);
  s.mirror_failed = mirror_failed.load(kRelaxed);
  for (size_t i = 0; i < s.mirror_dropped.size(); ++i) {
    s.mirror_dropped[i] = mirror_dropped[i].load(kRelaxed);
  }
  s.pairs = pairs.load(kRelaxed);
  s.running_latency = running_latency.Snapshot();
  s.testing_latency = testing_latency.Snapshot();
  return s;
}

std::string RenderPrometheus(const ProxyStats& s) {
  std::string out;
  RenderCounter(out, "yoke_proxy_connections_accepted_total", "Client connections accepted.",
                s.connections_accepted);
  RenderCounter(out, "yoke_proxy_connections_open", "Client connections open now.",
                s.connections_open, "gauge");
  RenderCounter(out, "yoke_proxy_connections_refused_total",
                "Client connections closed at once: over max_connections.", s.connections_refused);
  RenderCounter(out, "yoke_proxy_requests_total", "User requests received.", s.requests);
  out +=
      "# HELP yoke_proxy_responses_total User responses by status class.\n"
      "# TYPE yoke_proxy_responses_total counter\n";
  for (int cls = 1; cls <= 5; ++cls) {
    out += fmt::format("yoke_proxy_responses_total{{class=\"{}xx\"}} {}\n", cls,
                       s.responses_by_class[cls]);
  }
  out +=
      "# HELP yoke_proxy_rejected_total Requests the proxy answered itself, by reason.\n"
      "# TYPE yoke_proxy_rejected_total counter\n";
  out += fmt::format("yoke_proxy_rejected_total{{reason=\"bad_request\"}} {}\n", s.bad_requests);
  out += fmt::format("yoke_proxy_rejected_total{{reason=\"body_too_large\"}} {}\n", s.too_large);
  out += fmt::format("yoke_proxy_rejected_total{{reason=\"headers_too_large\"}} {}\n",
                     s.headers_too_large);
  out += fmt::format("yoke_proxy_rejected_total{{reason=\"upstream_unreachable\"}} {}\n",
                     s.upstream_unreachable);
  out += fmt::format("yoke_proxy_rejected_total{{reason=\"upstream_timeout\"}} {}\n",
                     s.upstream_timeouts);
  RenderCounter(out, "yoke_proxy_client_timeouts_total", "Slow or idle clients dropped.",
                s.client_timeouts);
  RenderCounter(out, "yoke_proxy_mirror_sent_total", "Copies sent to testing.", s.mirror_sent);
  RenderCounter(out, "yoke_proxy_mirror_in_flight", "Copies awaiting testing's answer.",
                s.mirror_in_flight, "gauge");
  RenderCounter(out, "yoke_proxy_mirror_failed_total", "Copies testing did not answer.",
                s.mirror_failed);
  out +=
      "# HELP yoke_proxy_mirror_dropped_total Requests not mirrored, by reason.\n"
      "# TYPE yoke_proxy_mirror_dropped_total counter\n";
  for (MirrorDrop reason : kAllMirrorDrops) {
    out += fmt::format("yoke_proxy_mirror_dropped_total{{reason=\"{}\"}} {}\n",
                       MirrorDropName(reason), s.mirror_dropped[static_cast<size_t>(reason)]);
  }
  RenderCounter(out, "yoke_proxy_pairs_total", "Pairs handed to the judge.", s.pairs);
  RenderHistogram(out, "yoke_proxy_running_latency_seconds",
                  "Time to the full response from running.", s.running_latency);
  RenderHistogram(out, "yoke_proxy_testing_latency_seconds",
                  "Time to the full response from testing (mirrored copies).", s.testing_latency);
  return out;
}

}  // namespace yoke::proxy
