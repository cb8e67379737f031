// Real `age` and `age-keygen` (Debian package age): encrypt to a recipient, decrypt with the
// identity, and the failures an operator meets (wrong identity, loose mode, no binary).
#include "platform/age.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

using testing::TempDir;

// A fresh identity in `dir`, mode 0600; returns its public key (the recipient).
std::string MakeIdentity(const std::filesystem::path& file) {
  auto made = RunPiped({"age-keygen", "-o", file.string()}, "", std::chrono::seconds(10));
  EXPECT_TRUE(made.has_value());
  ::chmod(file.c_str(), 0600);
  auto pub = RunPiped({"age-keygen", "-y", file.string()}, "", std::chrono::seconds(10));
  EXPECT_TRUE(pub.has_value() && pub->exit_code == 0);
  std::string key = pub ? pub->out : "";
  while (!key.empty() && key.back() == '\n') key.pop_back();
  return key;
}

// What one identity's recipient encrypts, that identity decrypts; the plaintext went by stdin.
TEST(AgeTest, RoundTrip) {
  TempDir dir;
  const auto id = dir.path() / "host.key";
  const std::string recipient = MakeIdentity(id);
  ASSERT_TRUE(recipient.starts_with("age1")) << recipient;
  auto sealed = AgeEncrypt({recipient}, "s3cret-value\n");
  ASSERT_TRUE(sealed.has_value()) << sealed.error().message();
  EXPECT_TRUE(sealed->starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
  EXPECT_EQ(sealed->find("s3cret"), std::string::npos);
  auto opened = AgeDecrypt(id, *sealed);
  ASSERT_TRUE(opened.has_value()) << opened.error().message();
  EXPECT_EQ(*opened, "s3cret-value\n");
}

// Another host's identity cannot decrypt; the error says age's reason, not the plaintext.
TEST(AgeTest, WrongIdentityFails) {
  TempDir dir;
  const std::string recipient = MakeIdentity(dir.path() / "a.key");
  MakeIdentity(dir.path() / "b.key");
  auto sealed = AgeEncrypt({recipient}, "s3cret");
  ASSERT_TRUE(sealed.has_value());
  auto opened = AgeDecrypt(dir.path() / "b.key", *sealed);
  ASSERT_FALSE(opened.has_value());
  EXPECT_NE(opened.error().message().find("age cannot decrypt it"), std::string::npos);
  EXPECT_EQ(opened.error().message().find("s3cret"), std::string::npos);
}

// An identity file others may read is refused before age runs.
TEST(AgeTest, LooseIdentityModeRefused) {
  TempDir dir;
  const auto id = dir.path() / "host.key";
  const std::string recipient = MakeIdentity(id);
  ::chmod(id.c_str(), 0644);
  auto opened = AgeDecrypt(id, *AgeEncrypt({recipient}, "x"));
  ASSERT_FALSE(opened.has_value());
  EXPECT_NE(opened.error().message().find("has mode 0644; it must be 0600 or stricter"),
            std::string::npos)
      << opened.error().message();
}

// A missing binary is a clear error, not a hang or a crash.
TEST(AgeTest, MissingBinary) {
  AgeOptions options;
  options.binary = "/nonexistent/age";
  auto sealed = AgeEncrypt({"age1x"}, "x", options);
  ASSERT_FALSE(sealed.has_value());
  EXPECT_NE(sealed.error().message().find("cannot run /nonexistent/age"), std::string::npos)
      << sealed.error().message();
}

}  // namespace
}  // namespace yoke
