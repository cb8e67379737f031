// The peers whose X-Forwarded-* fields the proxy keeps (proxy.trusted_proxies): addresses and
// CIDR blocks, IPv4 or IPv6; an IPv4 peer seen as an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// matches its IPv4 entries. Pure (inet_pton only). Thread-safety: immutable once parsed; shared
// freely between threads.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace yoke {

class TrustedPeers {
 public:
  TrustedPeers() = default;  // trusts nobody
  // Each entry "10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8". A bad entry fails with its text.
  static StatusOr<TrustedPeers> Parse(const std::vector<std::string>& entries);

  bool empty() const { return blocks_.empty(); }
  // Whether `ip` (a literal as the proxy prints a peer's address) lies in one of the blocks.
  bool Trusts(std::string_view ip) const;

 private:
  struct Block {
    std::array<unsigned char, 16> address{};  // IPv4 as ::ffff:a.b.c.d
    unsigned prefix = 128;
  };
  std::vector<Block> blocks_;
};

}  // namespace yoke
