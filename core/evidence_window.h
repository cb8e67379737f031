// The evidence gathered for one candidate: pair totals, overall and per route. The proxy's
// threads add pairs; the status page and (later) the judge read a copy. Thread-safe.
#pragma once

#include <mutex>
#include <string>

#include "core/evidence.h"
#include "core/pair_stats.h"

namespace yoke {

class EvidenceWindow : public EvidenceSink {
 public:
  void OnPair(Pair pair) override {
    std::lock_guard lock(mu_);
    stats_.Add(pair);
  }
  // The diff runs outside the lock: it parses JSON, and OnPair must not wait behind it.
  void OnBodySample(BodySample sample) override {
    SampleDiffs diffs = DiffSample(sample);
    std::lock_guard lock(mu_);
    bodies_.Record(diffs);
  }
  // Starts a new window, for a new candidate.
  void Reset(std::string candidate) {
    std::lock_guard lock(mu_);
    stats_ = PairStats();
    bodies_ = BodyDiffStats();
    candidate_ = std::move(candidate);
  }
  PairStats Stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }
  BodyDiffStats Bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::string candidate() const {
    std::lock_guard lock(mu_);
    return candidate_;
  }

 private:
  mutable std::mutex mu_;
  PairStats stats_;        // GUARDED_BY(mu_)
  BodyDiffStats bodies_;   // GUARDED_BY(mu_)
  std::string candidate_;  // GUARDED_BY(mu_)
};

}  // namespace yoke
