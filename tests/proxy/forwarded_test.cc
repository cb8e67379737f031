// X-Forwarded-For, -Proto and -Host: kept and appended to from a trusted peer (a TLS
// terminator), replaced from anyone else (proxy/http_rules.h, DecideRequest).
#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include "proxy/http_rules.h"

namespace yoke::proxy {
namespace {

std::string Head(const std::string& text, bool trusted) {
  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(text), ec);
  EXPECT_FALSE(ec) << text;
  if (ec) return "";
  auto decided = DecideRequest(parser.get().base(), "10.0.0.9", "127.0.0.1:9001", trusted);
  EXPECT_TRUE(decided) << text;
  std::string out;
  if (decided) AppendHead(*decided, false, {}, out);
  return out;
}

constexpr const char* kFromTerminator =
    "GET /a HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 203.0.113.7\r\n"
    "X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example.com\r\n\r\n";

// Behind a TLS terminator the app still sees https, the public host and the user's address
// first, with the terminator's own address appended.
TEST(ForwardedTest, TrustedPeerFieldsAreKeptAndAppended) {
  EXPECT_EQ(Head(kFromTerminator, true),
            "GET /a HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.9\r\n"
            "X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example.com\r\n\r\n");
}

// The same fields from a peer nobody trusts are not believed: a client cannot claim https or
// another address.
TEST(ForwardedTest, UntrustedPeerFieldsAreReplaced) {
  EXPECT_EQ(Head(kFromTerminator, false),
            "GET /a HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 10.0.0.9\r\n"
            "X-Forwarded-Proto: http\r\n\r\n");
}

// Repeated fields from a trusted chain are joined in order; Proto is the last hop's; a trusted
// peer that sends no Proto gets "http".
TEST(ForwardedTest, TrustedChainsJoinInOrder) {
  EXPECT_EQ(Head("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n"
                 "X-Forwarded-For: 2.2.2.2, 3.3.3.3\r\nX-Forwarded-Proto: http, https\r\n\r\n",
                 true),
            "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9\r\n"
            "X-Forwarded-Proto: https\r\n\r\n");
  EXPECT_EQ(
      Head("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
      "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n\r\n");
}

}  // namespace
}  // namespace yoke::proxy
