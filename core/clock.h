// The clock interface. core never reads a clock itself: the supervisor passes a Clock in,
// tests pass a fake one that they advance by hand. Implementations must be thread-safe.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace yoke {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // For durations and deadlines.
  virtual SteadyTime Now() const = 0;
  // For what is written down for people: file names, records.
  virtual WallTime WallNow() const = 0;
  // Waits `d` of this clock's time: the real one sleeps, a simulated one moves on by `d`.
  virtual void SleepFor(Millis d) const = 0;
};

// A wall time as UTC text, with strftime's `format`.
inline std::string FormatUtc(WallTime t, const char* format) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, format, &tm);
  return buffer;
}

}  // namespace yoke
