#include "base-layout/admin_token.h"

#include <cctype>

namespace yoke {
namespace {

std::string Trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

StatusOr<std::string> EnsureAdminToken(Env& env, const std::filesystem::path& path,
                                       const std::string& random_bytes) {
  auto existing = env.ReadFile(path);
  if (existing && !Trimmed(*existing).empty()) return Trimmed(*existing);
  if (!existing && !existing.error().is(ErrorCode::kNotFound)) {
    return std::unexpected(existing.error());  // unreadable: an operator must look
  }
  if (random_bytes.size() < 16) return Invalid("too few random bytes for an admin token");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : random_bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xF];
  }
  YOKE_RETURN_IF_ERROR(env.CreateDirs(path.parent_path()));
  YOKE_RETURN_IF_ERROR(env.WriteFileAtomic(path, token + "\n", FileMode::kPrivate));
  return token;
}

}  // namespace yoke
