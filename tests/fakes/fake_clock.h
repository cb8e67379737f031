// A clock that moves only when a test advances it. Thread-safe.
#pragma once

#include <atomic>

#include "core/clock.h"

namespace yoke {

class FakeClock : public Clock {
 public:
  SteadyTime Now() const override { return SteadyTime(Millis(now_ms_.load())); }
  WallTime WallNow() const override {
    return WallTime(std::chrono::milliseconds(1'790'000'000'000LL + now_ms_.load()));
  }
  void Advance(Millis by) const { now_ms_ += by.count(); }
  // Simulated time: a wait is over at once, with the clock moved on.
  void SleepFor(Millis d) const override { Advance(d); }

 private:
  mutable std::atomic<int64_t> now_ms_{1'000'000};
};

}  // namespace yoke
