#include "core/trusted_peers.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

// Addresses and CIDR blocks of both families match what they cover, and an IPv4 peer written
// as an IPv4-mapped IPv6 address matches its IPv4 block.
TEST(TrustedPeersTest, MatchesAddressesAndBlocks) {
  auto peers =
      TrustedPeers::Parse({"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "172.16.0.0/12"});
  ASSERT_TRUE(peers) << peers.error().message();
  for (const char* yes :
       {"10.1.2.3", "192.168.1.7", "fd12::1", "::1", "::ffff:10.9.9.9", "172.31.255.255"}) {
    EXPECT_TRUE(peers->Trusts(yes)) << yes;
  }
  for (const char* no :
       {"11.0.0.1", "192.168.1.8", "fe80::1", "::2", "172.32.0.0", "unknown", ""}) {
    EXPECT_FALSE(peers->Trusts(no)) << no;
  }
  EXPECT_FALSE(TrustedPeers().Trusts("127.0.0.1"));
  auto all = TrustedPeers::Parse({"0.0.0.0/0"});
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->Trusts("8.8.8.8"));
  EXPECT_FALSE(all->Trusts("2001:db8::1"));
}

// A bad entry is refused with its text.
TEST(TrustedPeersTest, RefusesBadEntries) {
  for (const char* bad :
       {"10.0.0.0/33", "fd00::/129", "10.0.0/8", "host.example", "10.0.0.0/", "10.0.0.0/8x"}) {
    auto peers = TrustedPeers::Parse({bad});
    ASSERT_FALSE(peers) << bad;
    EXPECT_NE(peers.error().message().find(bad), std::string::npos) << peers.error().message();
  }
}

}  // namespace
}  // namespace yoke
