#include "proxy/proxy_stats.h"

#include <algorithm>
#include <tuple>

namespace yoke::proxy {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

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

void AddPrometheus(const ProxyStats& s, PrometheusText& out) {
  out.Counter("yoke_proxy_connections_accepted_total", "Client connections accepted.",
              s.connections_accepted);
  out.Gauge("yoke_proxy_connections_open", "Client connections open now.", s.connections_open);
  out.Counter("yoke_proxy_connections_refused_total",
              "Client connections closed at once: over max_connections.", s.connections_refused);
  out.Counter("yoke_proxy_requests_total", "User requests received.", s.requests);
  for (int cls = 1; cls <= 5; ++cls) {
    const std::string label = std::to_string(cls) + "xx";
    out.Counter("yoke_proxy_responses_total", "User responses by status class.",
                s.responses_by_class[cls], {{"class", label}});
  }
  for (auto [reason, value] : {std::pair{"bad_request", s.bad_requests},
                               {"body_too_large", s.too_large},
                               {"headers_too_large", s.headers_too_large},
                               {"upstream_unreachable", s.upstream_unreachable},
                               {"upstream_timeout", s.upstream_timeouts}}) {
    out.Counter("yoke_proxy_rejected_total", "Requests the proxy answered itself, by reason.",
                value, {{"reason", reason}});
  }
  out.Counter("yoke_proxy_client_timeouts_total", "Slow or idle clients dropped.",
              s.client_timeouts);
  out.Counter("yoke_proxy_mirror_sent_total", "Copies sent to testing.", s.mirror_sent);
  out.Gauge("yoke_proxy_mirror_in_flight", "Copies awaiting testing's answer.", s.mirror_in_flight);
  out.Counter("yoke_proxy_mirror_failed_total", "Copies testing did not answer.", s.mirror_failed);
  for (MirrorDrop reason : kAllMirrorDrops) {
    out.Counter("yoke_proxy_mirror_dropped_total", "Requests not mirrored, by reason.",
                s.mirror_dropped[static_cast<size_t>(reason)],
                {{"reason", MirrorDropName(reason)}});
  }
  out.Counter("yoke_proxy_pairs_total", "Pairs handed to the judge.", s.pairs);
  // One histogram, the role a label: running's answers to users, testing's to mirrored copies.
  for (auto [role, h] :
       {std::pair{"running", &s.running_latency}, {"testing", &s.testing_latency}}) {
    out.Histogram("yoke_proxy_latency_seconds",
                  "Time to the full response, by role (testing: mirrored copies).", kLatencyBuckets,
                  h->counts, h->sum_seconds, h->count, {{"role", role}});
  }
}

}  // namespace yoke::proxy
