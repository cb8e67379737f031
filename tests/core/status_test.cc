#include "core/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace yoke {
namespace {

StatusOr<int> Parse(const std::string& text) {
  if (text.empty()) return Invalid("empty");
  return std::stoi(text);
}

StatusOr<int> Twice(const std::string& text) {
  YOKE_ASSIGN_OR_RETURN(int n, Parse(text));
  return 2 * n;
}

// The code survives the return-if-error helpers, so a caller far up can branch on it.
TEST(StatusTest, CodesTravelUp) {
  auto bad = Twice("");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(ErrorCode::kInvalid));
  EXPECT_EQ(bad.error().message(), "empty");
  EXPECT_EQ(*Twice("21"), 42);
  EXPECT_TRUE(Fail("x").error().is(ErrorCode::kUnknown));
  EXPECT_STREQ(ErrorCodeName(NotFound("x").error().code()), "not found");
}

// errno values map to the kinds callers branch on.
TEST(StatusTest, ErrnoMapsToKinds) {
  EXPECT_EQ(ErrorCodeOfErrno(ENOENT), ErrorCode::kNotFound);
  EXPECT_EQ(ErrorCodeOfErrno(ENOTDIR), ErrorCode::kNotFound);
  EXPECT_EQ(ErrorCodeOfErrno(EEXIST), ErrorCode::kConflict);
  EXPECT_EQ(ErrorCodeOfErrno(ENOSPC), ErrorCode::kIo);
  EXPECT_EQ(ErrorCodeOfErrno(EACCES), ErrorCode::kIo);
}

}  // namespace
}  // namespace yoke
