#include "core/backoff.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.h"

namespace yoke {
namespace {

// Crashes in a row double the delay up to the cap; a long healthy spell resets it.
TEST(BackoffTest, DoublesToCapAndResetsAfterHealthySpell) {
  FakeClock clock;
  Backoff backoff(Millis(500), Millis(4000), Millis(60000));
  SteadyTime t = clock.Now();
  EXPECT_EQ(backoff.OnCrash(t, t), Millis(500));
  EXPECT_EQ(backoff.OnCrash(t, t), Millis(1000));
  EXPECT_EQ(backoff.OnCrash(t, t), Millis(2000));
  EXPECT_EQ(backoff.OnCrash(t, t), Millis(4000));
  EXPECT_EQ(backoff.OnCrash(t, t), Millis(4000));
  EXPECT_EQ(backoff.consecutive_crashes(), 5);
  clock.Advance(Millis(60000));
  EXPECT_EQ(backoff.OnCrash(t, clock.Now()), Millis(500));
  EXPECT_EQ(backoff.consecutive_crashes(), 1);
}

// Many crashes never overflow the delay.
TEST(BackoffTest, StaysAtCapAfterManyCrashes) {
  Backoff backoff(Millis(1), Millis(30000), Millis(60000));
  SteadyTime t{};
  Millis last{};
  for (int i = 0; i < 1000; ++i) last = backoff.OnCrash(t, t);
  EXPECT_EQ(last, Millis(30000));
}

}  // namespace
}  // namespace yoke
