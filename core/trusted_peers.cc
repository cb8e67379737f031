#include "core/trusted_peers.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <optional>

namespace yoke {
namespace {

// An address literal as 16 bytes (IPv4 mapped into ::ffff:0:0/96), and whether it was IPv4.
std::optional<std::pair<std::array<unsigned char, 16>, bool>> ParseAddress(std::string_view text) {
  std::string s(text);
  std::array<unsigned char, 16> out{};
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return std::pair{out, true};
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return std::pair{out, false};
  }
  return std::nullopt;
}

}  // namespace

StatusOr<TrustedPeers> TrustedPeers::Parse(const std::vector<std::string>& entries) {
  TrustedPeers peers;
  for (const std::string& entry : entries) {
    std::string_view text = entry;
    std::string_view address = text.substr(0, text.find('/'));
    auto parsed = ParseAddress(address);
    if (!parsed) {
      return Invalid("trusted_proxies: \"" + entry + "\" is not an address or CIDR block");
    }
    Block block;
    block.address = parsed->first;
    const unsigned width = parsed->second ? 32 : 128;
    unsigned prefix = width;
    if (address.size() < text.size()) {
      std::string_view bits = text.substr(address.size() + 1);
      auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (ec != std::errc() || end != bits.data() + bits.size() || bits.empty() || prefix > width) {
        return Invalid("trusted_proxies: \"" + entry + "\" has a bad prefix length (0-" +
                       std::to_string(width) + ")");
      }
    }
    block.prefix = prefix + (parsed->second ? 96 : 0);
    peers.blocks_.push_back(block);
  }
  return peers;
}

bool TrustedPeers::Trusts(std::string_view ip) const {
  if (blocks_.empty()) return false;
  auto parsed = ParseAddress(ip);
  if (!parsed) return false;
  const auto& a = parsed->first;
  for (const Block& b : blocks_) {
    unsigned bits = b.prefix;
    size_t i = 0;
    for (; bits >= 8; bits -= 8, ++i) {
      if (a[i] != b.address[i]) break;
    }
    if (bits >= 8) continue;  // a whole byte differed
    if (bits == 0) return true;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) == (b.address[i] & mask)) return true;
  }
  return false;
}

}  // namespace yoke
