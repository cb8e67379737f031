// Digests against published test vectors (FIPS 180-2, RFC 4231).
#include "meta/digest.h"

#include <gtest/gtest.h>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

// A file's sha256 and size match the standard's vector for "abc".
TEST(DigestTest, FileSha256AndSize) {
  testing::TempDir dir;
  testing::WriteAll(dir.path() / "abc", "abc");
  auto digest = meta::DigestFile(dir.path() / "abc");
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest->size, 3u);
  EXPECT_FALSE(meta::DigestFile(dir.path() / "missing"));
}

// HMAC-SHA256 matches RFC 4231's test case 2; the comparison does not accept prefixes.
TEST(DigestTest, HmacAndComparison) {
  EXPECT_EQ(meta::HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_TRUE(meta::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(meta::ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(meta::ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace yoke
