#include "supervisor/admin/history_report.h"

#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>

#include "core/utf8.h"

namespace yoke {
namespace {

namespace json = boost::json;

json::value Optional(const std::optional<double>& value) {
  if (!value) return nullptr;
  return *value;
}

}  // namespace

std::vector<double> LatencyBounds() {
  return {proxy::kLatencyBuckets.begin(), proxy::kLatencyBuckets.end()};
}

HistoryReading HistoryReadingOf(const std::string& candidate, const PairCounts& window,
                                const proxy::ProxyStats& proxy, int64_t unix_ms) {
  HistoryReading r;
  r.unix_ms = unix_ms;
  r.candidate = candidate;
  r.pairs = window.pairs;
  r.running_errors = window.running_errors;
  r.testing_errors = window.testing_errors;
  r.running_buckets.assign(proxy.running_latency.counts.begin(),
                           proxy.running_latency.counts.end());
  r.testing_buckets.assign(proxy.testing_latency.counts.begin(),
                           proxy.testing_latency.counts.end());
  return r;
}

std::string HistoryJson(const StatusHistory& history, std::chrono::seconds interval) {
  json::array points;
  for (const HistoryPoint& p : history.Points()) {
    points.push_back(json::object{{"t", p.unix_ms},
                                  {"candidate", ValidUtf8(p.candidate)},
                                  {"pairs", p.pairs},
                                  {"pairs_per_s", p.pairs_per_s},
                                  {"running_error_rate", p.running_error_rate},
                                  {"testing_error_rate", p.testing_error_rate},
                                  {"running_p50_ms", Optional(p.running_p50_ms)},
                                  {"running_p99_ms", Optional(p.running_p99_ms)},
                                  {"testing_p50_ms", Optional(p.testing_p50_ms)},
                                  {"testing_p99_ms", Optional(p.testing_p99_ms)}});
  }
  json::object out{{"interval_s", interval.count()},
                   {"capacity", history.capacity()},
                   {"points", std::move(points)}};
  return json::serialize(out) + "\n";
}

std::string TimelineJson(const DecisionListing& listing,
                         const std::function<std::string(const std::string&)>& sources_of) {
  std::map<std::string, std::string> sources;  // one look per version
  json::array decisions;
  for (const DecisionEntry& e : listing.entries) {
    json::object entry{{"id", ValidUtf8(e.id)}};
    if (!e.problem.empty()) {
      entry["error"] = ValidUtf8(e.problem);
      decisions.push_back(std::move(entry));
      continue;
    }
    const Decision& d = e.decision;
    entry["time"] = ValidUtf8(d.time());
    entry["verdict"] = Verdict_Name(d.verdict());
    entry["from_version"] = ValidUtf8(d.from_version());
    entry["to_version"] = ValidUtf8(d.to_version());
    entry["author"] = ValidUtf8(d.author());
    entry["reason"] = ValidUtf8(d.reason());
    if (sources_of && !d.to_version().empty()) {
      auto [it, fresh] = sources.try_emplace(d.to_version());
      if (fresh) it->second = sources_of(d.to_version());
      if (!it->second.empty()) entry["sources"] = ValidUtf8(it->second);
    }
    decisions.push_back(std::move(entry));
  }
  json::object out{{"total", listing.total}, {"decisions", std::move(decisions)}};
  return json::serialize(out) + "\n";
}

HistorySampler::HistorySampler(StatusHistory* history, std::function<HistoryReading()> read,
                               std::chrono::milliseconds interval)
    : thread_([history, read = std::move(read), interval](std::stop_token stop) {
        std::mutex mu;
        std::condition_variable_any wake;
        std::unique_lock lock(mu);
        while (!stop.stop_requested()) {
          history->Add(read());
          // Wakes at once when the sampler is destroyed (stop requested); the loop then ends.
          wake.wait_for(lock, stop, interval, [] { return false; });
        }
      }) {}

HistorySampler::~HistorySampler() {
  thread_.request_stop();
  thread_.join();
}

}  // namespace yoke
