// The system clocks behind the Clock interface. Only the composition root (supervisor/run.cc)
// constructs one.
#pragma once

#include <thread>

#include "core/clock.h"

namespace yoke {

class RealClock : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  void SleepFor(Millis d) const override { std::this_thread::sleep_for(d); }
};

}  // namespace yoke
