// Restart backoff for a crashing running instance: doubles from `initial` up to `max`, and
// resets once an instance has stayed up for `reset_after`. Pure: times come in as arguments.
// Thread-safety: none; owned by the supervisor loop.
#pragma once

#include "core/clock.h"

namespace yoke {

class Backoff {
 public:
  // `consecutive_crashes`: crashes in a row already seen, for a backoff rebuilt from a count.
  Backoff(Millis initial, Millis max, Millis reset_after, int consecutive_crashes = 0)
      : initial_(initial),
        max_(max),
        reset_after_(reset_after),
        consecutive_(consecutive_crashes) {}

  // Records a crash of an instance that had been up since `up_since`, seen at `now`.
  // Returns how long to wait before the next start.
  Millis OnCrash(SteadyTime up_since, SteadyTime now);

  // Crashes in a row without a long enough healthy spell in between.
  int consecutive_crashes() const { return consecutive_; }

 private:
  Millis initial_;
  Millis max_;
  Millis reset_after_;
  int consecutive_ = 0;
};

}  // namespace yoke
