// Which mirrored requests the proxy samples for body_diff: every Nth GET, bounded in flight.
#include "proxy/body_sample.h"

#include <gtest/gtest.h>

namespace yoke::proxy {
namespace {

// At the default 1%, the 100th, 200th ... GET is sampled, never the first; other methods never.
TEST(BodySamplerTest, SamplesEveryNthGet) {
  MirrorPolicy policy;
  BodySampler sampler;
  int taken = 0;
  for (int i = 1; i <= 1000; ++i) {
    if (sampler.Take(policy, "GET")) {
      ++taken;
      EXPECT_EQ(i % 100, 0) << i;
      sampler.Done();
    }
  }
  EXPECT_EQ(taken, 10);
  EXPECT_FALSE(sampler.Take(policy, "HEAD"));
  EXPECT_FALSE(sampler.Take(policy, "POST"));
}

// Off at rate 0; at rate 1 every GET until body_sample_in_flight samples run at once.
TEST(BodySamplerTest, RateZeroIsOffAndInFlightIsBounded) {
  MirrorPolicy policy;
  policy.body_sample_rate = 0;
  BodySampler sampler;
  EXPECT_FALSE(sampler.Take(policy, "GET"));
  policy.body_sample_rate = 1;
  policy.body_sample_in_flight = 3;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(sampler.Take(policy, "GET"));
  EXPECT_FALSE(sampler.Take(policy, "GET"));
  sampler.Done();
  EXPECT_TRUE(sampler.Take(policy, "GET"));
  EXPECT_EQ(sampler.taken(), 4u);
}

}  // namespace
}  // namespace yoke::proxy
