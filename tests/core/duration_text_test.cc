#include "core/duration_text.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

using std::chrono::milliseconds;

// The forms an operator types: seconds alone, one unit, or units added up.
TEST(DurationTextTest, ReadsNumbersAndUnits) {
  EXPECT_EQ(ParseDurationText("90").value(), milliseconds(90'000));
  EXPECT_EQ(ParseDurationText("90s").value(), milliseconds(90'000));
  EXPECT_EQ(ParseDurationText("10m").value(), milliseconds(600'000));
  EXPECT_EQ(ParseDurationText("1h30m").value(), milliseconds(5'400'000));
  EXPECT_EQ(ParseDurationText("250ms").value(), milliseconds(250));
  EXPECT_EQ(ParseDurationText("2d").value(), milliseconds(172'800'000));
  EXPECT_EQ(ParseDurationText("0s").value(), milliseconds(0));
}

// Anything else fails with the text quoted, never a crash or an overflow.
TEST(DurationTextTest, RefusesWhatIsNotADuration) {
  for (const char* bad :
       {"", "m", "10x", "-5s", "1h30", "1.5h", "s10", "99999999999999999999s", "1000000000d"}) {
    auto parsed = ParseDurationText(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_NE(parsed.error().message().find("not a duration"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace yoke
