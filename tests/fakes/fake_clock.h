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
  void Advance(Millis by) { now_ms_ += by.count(); }

 private:
  std::atomic<int64_t> now_ms_{1'000'000};
};

}  // namespace yoke
