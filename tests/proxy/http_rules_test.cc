#include "proxy/http_rules.h"

#include <gtest/gtest.h>

namespace yoke::proxy {
namespace {

TEST(HttpRulesTest, StripsHopByHopAndFieldsNamedByConnection) {
  http::fields f;
  f.set(http::field::connection, "keep-alive, X-Private");
  f.set("X-Private", "1");
  f.set(http::field::keep_alive, "timeout=5");
  f.set(http::field::upgrade, "websocket");
  f.set(http::field::proxy_authorization, "Basic x");
  f.set(http::field::transfer_encoding, "chunked");
  f.set(http::field::accept, "*/*");
  StripHopByHop(f);
  EXPECT_EQ(std::distance(f.begin(), f.end()), 1);
  EXPECT_EQ(f[http::field::accept], "*/*");
}

TEST(HttpRulesTest, AppendsToForwardedFor) {
  http::fields f;
  AddForwarded(f, "127.0.0.1", "http");
  EXPECT_EQ(f["X-Forwarded-For"], "127.0.0.1");
  AddForwarded(f, "10.0.0.2", "http");
  EXPECT_EQ(f["X-Forwarded-For"], "127.0.0.1, 10.0.0.2");
  EXPECT_EQ(f["X-Forwarded-Proto"], "http");
}

// What Beast's parser lets through but a proxy must refuse.
TEST(HttpRulesTest, FindsSmugglingRisks) {
  http::fields ok;
  ok.set(http::field::transfer_encoding, "gzip, chunked");
  EXPECT_EQ(SmugglingRisk(ok), "");
  http::fields both;
  both.set(http::field::transfer_encoding, "chunked");
  both.set(http::field::content_length, "5");
  EXPECT_NE(SmugglingRisk(both), "");
  http::fields not_chunked;
  not_chunked.set(http::field::transfer_encoding, "chunked, gzip");
  EXPECT_NE(SmugglingRisk(not_chunked), "");
}

TEST(HttpRulesTest, MirrorCopyIsMarkedAndStripped) {
  http::fields f;
  f.set(http::field::cookie, "a=b");
  f.set(http::field::authorization, "x");
  f.set(http::field::accept, "*/*");
  PrepareMirrorCopy(f, MirrorPolicy());
  EXPECT_EQ(f.count(http::field::cookie), 0u);
  EXPECT_EQ(f.count(http::field::authorization), 0u);
  EXPECT_EQ(f["Yoke-Mirror"], "1");
  EXPECT_EQ(f[http::field::accept], "*/*");
}

TEST(HttpRulesTest, ErrorResponsesSayWhy) {
  auto res = ErrorResponse(http::status::bad_gateway, "running is down", 11, false);
  EXPECT_EQ(res.body(), "502 Bad Gateway: running is down\n");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(res[http::field::content_length], std::to_string(res.body().size()));
}

}  // namespace
}  // namespace yoke::proxy
