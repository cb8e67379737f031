#include "proxy/http_rules.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

namespace yoke::proxy {
namespace {

// Parses a request header as the proxy does (Beast, header only).
std::optional<http::request_header<>> Parse(const std::string& text) {
  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(text), ec);
  if (ec || !parser.is_header_done()) return std::nullopt;
  return parser.release().base();
}

Decision Decide(const std::string& text) {
  auto header = Parse(text);
  EXPECT_TRUE(header) << text;
  if (!header) return Decision{Refusal{http::status::bad_request, "unparsed"}, {}};
  return DecideRequest(*header, "10.0.0.9", "127.0.0.1:9001");
}

std::string Head(const std::string& text, bool mirror = false) {
  auto decided = Decide(text);
  EXPECT_TRUE(decided) << text << " refused: " << decided.error().reason;
  std::string out;
  std::vector<std::string> strip = {"cookie", "authorization"};
  if (decided) AppendHead(*decided, mirror, strip, out);
  return out;
}

http::status Refused(const std::string& text) {
  auto decided = Decide(text);
  EXPECT_FALSE(decided) << text;
  return decided ? http::status::ok : decided.error().status;
}

// The upstream head is rebuilt: Host first, the client's fields in order, X-Forwarded-*, then
// the framing the proxy computed.
TEST(HttpRulesTest, RebuildsTheHeadInOneNormalForm) {
  EXPECT_EQ(Head("POST /a?b=1 HTTP/1.1\r\nAccept: */*\r\nHost: shop\r\nContent-Length: 003\r\n"
                 "X-Forwarded-For: 1.2.3.4\r\n\r\n"),
            "POST /a?b=1 HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\n"
            "X-Forwarded-For: 10.0.0.9\r\nX-Forwarded-Proto: http\r\n"
            "Content-Length: 3\r\n\r\n");
}

// Defect 1: Connection may not remove Content-Length, Transfer-Encoding or Host.
TEST(HttpRulesTest, ConnectionCannotRemoveFramingOrRouting) {
  EXPECT_EQ(Head("POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Host, X-Private\r\n"
                 "X-Private: 1\r\nContent-Length: 5\r\n\r\n"),
            "POST / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\n"
            "X-Forwarded-Proto: http\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(Head("POST / HTTP/1.1\r\nHost: h\r\nConnection: Transfer-Encoding\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"),
            "POST / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.9\r\n"
            "X-Forwarded-Proto: http\r\nTransfer-Encoding: chunked\r\n\r\n");
}

// Defect 3: the proxy's own Yoke-* fields never come from a user.
TEST(HttpRulesTest, DropsYokeFieldsFromUsers) {
  const std::string head =
      Head("GET / HTTP/1.1\r\nHost: h\r\nYoke-Mirror: 1\r\nyoke-anything: x\r\n\r\n");
  EXPECT_EQ(head.find("oke-"), std::string::npos) << head;
  const std::string copy = Head("GET / HTTP/1.1\r\nHost: h\r\nYoke-Mirror: 0\r\n\r\n", true);
  EXPECT_NE(copy.find("Yoke-Mirror: 1\r\n"), std::string::npos);
  EXPECT_EQ(copy.find("Yoke-Mirror: 0"), std::string::npos);
}

// Defect 5: each framing and routing oddity has one reading or a refusal.
TEST(HttpRulesTest, NormalisesOrRefusesOddFraming) {
  EXPECT_NE(Head("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n")
                .find("\r\nContent-Length: 3\r\n"),
            std::string::npos);
  EXPECT_NE(Head("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n")
                .find("\r\nContent-Length: 3\r\n\r\n"),
            std::string::npos);
  EXPECT_EQ(Refused("GET / HTTP/1.1\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("GET h:443 HTTP/1.1\r\nHost: h\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("GET http://u@evil/ HTTP/1.1\r\nHost: h\r\n\r\n"), http::status::bad_request);
  EXPECT_EQ(Refused("GET ftp://evil/ HTTP/1.1\r\nHost: h\r\n\r\n"), http::status::bad_request);
  http::request_header<> v20;  // Beast's parser refuses versions but 1.x itself
  v20.version(20);
  v20.set(http::field::host, "h");
  auto http2 = DecideRequest(v20, "1.1.1.1", "x");
  ASSERT_FALSE(http2);
  EXPECT_EQ(http2.error().status, http::status::http_version_not_supported);
  EXPECT_EQ(Refused("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n"),
            http::status::expectation_failed);
}

// RFC 9112 §3.2.2: an absolute-form target's authority replaces Host; the target is sent as a path.
TEST(HttpRulesTest, AbsoluteFormAuthorityReplacesHost) {
  EXPECT_EQ(Head("GET http://Other:8080?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"),
            "GET /?q=1 HTTP/1.1\r\nHost: Other:8080\r\nX-Forwarded-For: 10.0.0.9\r\n"
            "X-Forwarded-Proto: http\r\n\r\n");
  EXPECT_EQ(Head("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").substr(0, 21), "OPTIONS * HTTP/1.1\r\nH");
}

// HTTP/1.0: no Host is allowed (running's address is sent); Transfer-Encoding is not.
TEST(HttpRulesTest, Http10GetsAHostAndNoChunks) {
  EXPECT_NE(Head("GET / HTTP/1.0\r\n\r\n").find("\r\nHost: 127.0.0.1:9001\r\n"), std::string::npos);
  EXPECT_EQ(Refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            http::status::bad_request);
  auto keep = Decide("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(keep);
  EXPECT_TRUE(keep->keep_alive);
  EXPECT_EQ(keep->version, 10u);
}

// Only `Transfer-Encoding: chunked` is accepted; other codings 501, obfuscations 400.
TEST(HttpRulesTest, AcceptsOnlyPlainChunked) {
  EXPECT_TRUE(Decide("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n"));
  EXPECT_EQ(Refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            http::status::not_implemented);
  EXPECT_EQ(Refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
            http::status::not_implemented);
  EXPECT_EQ(Refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"),
            http::status::bad_request);
  // Beast refuses these itself; the rules refuse them too.
  http::request_header<> twice;
  twice.set(http::field::host, "h");
  twice.insert(http::field::transfer_encoding, "chunked");
  twice.insert(http::field::transfer_encoding, "chunked");
  EXPECT_FALSE(DecideRequest(twice, "1.1.1.1", "x"));
  http::request_header<> both;
  both.set(http::field::host, "h");
  both.set(http::field::transfer_encoding, "chunked");
  both.set(http::field::content_length, "5");
  EXPECT_FALSE(DecideRequest(both, "1.1.1.1", "x"));
}

TEST(HttpRulesTest, MirrorCopyIsMarkedAndStripped) {
  const std::string copy = Head(
      "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=b\r\nAuthorization: x\r\nAccept: */*\r\n\r\n", true);
  EXPECT_EQ(copy,
            "GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.9\r\n"
            "X-Forwarded-Proto: http\r\nYoke-Mirror: 1\r\n\r\n");
}

TEST(HttpRulesTest, ValidatesHosts) {
  for (const char* ok : {"", "a", "shop.example:8080", "127.0.0.1", "[::1]:80", "x_y-z~"}) {
    EXPECT_TRUE(IsValidHost(ok)) << ok;
  }
  for (const char* bad : {"a b", "a,b", "a/b", "a@b", "[::1", "a:80x", "a:123456", "[zz]"}) {
    EXPECT_FALSE(IsValidHost(bad)) << bad;
  }
}

struct Decoded {
  ChunkedDecoder::State state;
  std::string body;
  size_t consumed;
  std::string error;
};

Decoded DecodeInPieces(std::string_view input, size_t piece, uint64_t limit = 1 << 20) {
  ChunkedDecoder decoder(limit);
  Decoded out{ChunkedDecoder::State::kMore, "", 0, ""};
  while (out.consumed < input.size() && decoder.state() == ChunkedDecoder::State::kMore) {
    out.consumed += decoder.Feed(input.substr(out.consumed, piece), out.body);
  }
  out.state = decoder.state();
  out.error = decoder.error();
  return out;
}

// The decoder reads the same body whatever the read sizes, and stops at the body's end.
TEST(ChunkedDecoderTest, DecodesInAnySplit) {
  const std::string input =
      "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
      "X-Trailer: dropped\r\n\r\nGET /next";
  for (size_t piece : {1, 2, 3, 7, 100}) {
    Decoded d = DecodeInPieces(input, piece);
    EXPECT_EQ(d.state, ChunkedDecoder::State::kDone) << piece;
    EXPECT_EQ(d.body, "helloabcdefghijklmnopqrstuvwxyz");
    EXPECT_EQ(input.substr(d.consumed), "GET /next") << piece;
  }
}

// Defect 5: a bare LF (or CR) never ends a chunk line: an error at once, not a wait.
TEST(ChunkedDecoderTest, RefusesBareLineEnds) {
  for (const char* bad : {"5\nhello\r\n0\r\n\r\n", "5\rhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n",
                          "5\r\nhelloX\r\n0\r\n\r\n", "0\r\nX: y\n\r\n", "0\n\n", "0\r\n\n"}) {
    Decoded d = DecodeInPieces(bad, 1);
    EXPECT_EQ(d.state, ChunkedDecoder::State::kError) << bad;
    EXPECT_FALSE(d.error.empty());
  }
}

TEST(ChunkedDecoderTest, RefusesBadSizesAndBoundsEverything) {
  for (const char* bad : {"\r\n", "x\r\n", "-1\r\n", "+5\r\n", "0x5\r\n", "11111111111111111\r\n",
                          "5;\x01\r\n", "0\r\nno colon\r\n\r\n", "0\r\n folded: x\r\n\r\n"}) {
    EXPECT_EQ(DecodeInPieces(bad, 3).state, ChunkedDecoder::State::kError) << bad;
  }
  ChunkedDecoder small(4);
  std::string body;
  small.Feed("5\r\nhello\r\n", body);
  EXPECT_EQ(small.state(), ChunkedDecoder::State::kError);
  EXPECT_TRUE(small.over_limit());
  ChunkedDecoder trailers(1 << 20, 4096, 16);
  trailers.Feed("0\r\nX-A: 0123456789abcdef\r\n\r\n", body);
  EXPECT_EQ(trailers.state(), ChunkedDecoder::State::kError);
}

TEST(ChunkedDecoderTest, ChunksAreWrittenInTheProxysFraming) {
  std::string out;
  AppendChunk("", out);
  EXPECT_EQ(out, "");
  AppendChunk(std::string(26, 'a'), out);
  EXPECT_EQ(out, "1a\r\n" + std::string(26, 'a') + "\r\n");
}

TEST(HttpRulesTest, StripsHopByHopFromAnswersButNotTheirLength) {
  http::fields f;
  f.set(http::field::connection, "keep-alive, X-Private, Content-Length");
  f.set("X-Private", "1");
  f.set(http::field::keep_alive, "timeout=5");
  f.set(http::field::transfer_encoding, "chunked");
  f.set(http::field::content_length, "5");
  StripHopByHop(f);
  EXPECT_EQ(std::distance(f.begin(), f.end()), 1);
  EXPECT_EQ(f[http::field::content_length], "5");
}

TEST(HttpRulesTest, ErrorResponsesSayWhy) {
  auto res = ErrorResponse(http::status::bad_gateway, "running is down", 11, false);
  EXPECT_EQ(res.body(), "502 Bad Gateway: running is down\n");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(res[http::field::content_length], std::to_string(res.body().size()));
}

}  // namespace
}  // namespace yoke::proxy
