#include "core/backoff.h"

#include <algorithm>

namespace yoke {

Millis Backoff::OnCrash(SteadyTime up_since, SteadyTime now) {
  if (now - up_since >= reset_after_) consecutive_ = 0;
  ++consecutive_;
  Millis delay = initial_;
  for (int i = 1; i < consecutive_ && delay < max_; ++i) delay *= 2;
  return std::min(delay, max_);
}

}  // namespace yoke
