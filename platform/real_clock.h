// The system clocks behind the Clock interface. Only main constructs one.
#pragma once

#include "core/clock.h"

namespace yoke {

class RealClock : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
};

}  // namespace yoke
