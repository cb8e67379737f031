// Body sampling for the judge's body_diff gate (docs/judge.md, docs/proxy.md): a small share of
// mirrored GET requests is sent to running, to testing and to running again, each over a fresh
// connection, and the three answers' bodies go to the EvidenceSink as one BodySample. Running's
// answer to the user is never touched: the sample's copies are extra requests, marked
// `Yoke-Mirror: 1` like every mirror copy, so a service can skip side effects.
//
// Bounds: the share (every Nth GET), the samples in flight, the bytes read per body (larger
// bodies drop the sample), and a deadline per answer. A failed or unusable sample is dropped
// and counted, never retried. Thread-safety: BodySampler is safe from any thread;
// SpawnBodySample runs on the given io_context.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/evidence.h"
#include "core/mirror_policy.h"

namespace boost::asio {
class io_context;
}

namespace yoke::proxy {

class BodySampler {
 public:
  // True for the Nth, 2Nth, ... GET offered (N = round(1 / policy.body_sample_rate)), while fewer
  // than policy.body_sample_in_flight samples run. After true, the caller runs one sample, which
  // calls Done() when it ends.
  bool Take(const MirrorPolicy& policy, std::string_view method);
  void Done() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  uint64_t taken() const { return taken_.load(std::memory_order_relaxed); }
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  void CountCompleted() { completed_.fetch_add(1, std::memory_order_relaxed); }
  void CountDropped() { dropped_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> offered_{0};
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<uint64_t> taken_{0};
  std::atomic<uint64_t> completed_{0};
  std::atomic<uint64_t> dropped_{0};
};

// One sample's way: `copy` (the mirror copy's bytes) to running, testing, then running again;
// each answer must be 2xx with a JSON or text body of at most `max_bytes`. `served_running` and
// `served_testing` are bumped per answer, so log rates per request stay true; `keep` holds
// whatever owns them. `private_values`: the copies carried credentials.
struct BodySampleJob {
  boost::asio::ip::tcp::endpoint running;
  boost::asio::ip::tcp::endpoint testing;
  std::shared_ptr<const std::string> copy;
  std::string route;
  std::string running_version, testing_version;
  bool private_values = false;
  uint64_t max_bytes = 64 * 1024;
  std::chrono::milliseconds timeout{10000};
  std::atomic<uint64_t>* served_running = nullptr;
  std::atomic<uint64_t>* served_testing = nullptr;
  std::shared_ptr<const void> keep;
};
void SpawnBodySample(boost::asio::io_context& io, BodySampleJob job, BodySampler& sampler,
                     EvidenceSink* sink);

}  // namespace yoke::proxy
