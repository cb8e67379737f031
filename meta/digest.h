// SHA-256 of files and byte strings, and HMAC-SHA256 for webhook signatures (OpenSSL).
// Thread-safety: free functions; a Sha256 object belongs to one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace yoke::meta {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(const void* data, size_t size);
  std::string HexDigest();  // lowercase hex; ends this hasher

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct FileDigest {
  std::string sha256;
  uint64_t size = 0;
};
StatusOr<FileDigest> DigestFile(const std::filesystem::path& path);

std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Compares in time that does not depend on where the strings differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace yoke::meta
