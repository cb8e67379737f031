#include "proxy/response_head.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>

#include "proxy/http_rules.h"

namespace yoke::proxy {
namespace {

// What the general path writes for an answer: Beast's parser, StripHopByHop, the client's
// version and keep-alive, the length of the body read, Beast's serializer.
std::string GeneralPath(const std::string& answer, bool is_head, unsigned version,
                        bool keep_alive) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  if (is_head) parser.skip(true);
  boost::system::error_code ec;
  // put() stops after the head; the body takes further calls.
  for (size_t used = 0; !ec && !parser.is_done() && used < answer.size();) {
    used += parser.put(boost::asio::buffer(answer.data() + used, answer.size() - used), ec);
  }
  EXPECT_FALSE(ec) << answer;
  auto res = parser.release();
  StripHopByHop(res);
  res.version(version);
  res.keep_alive(keep_alive);
  if (!(is_head || res.result_int() == 204 || res.result_int() == 304)) {
    res.content_length(res.body().size());
  }
  std::ostringstream out;
  out << res;
  return out.str();
}

// The fast path's bytes: the head it builds, then the body as running sent it.
std::optional<std::string> FastPath(const std::string& answer, bool is_head, unsigned version,
                                    bool keep_alive) {
  auto plain = ParsePlainResponse(answer, FindHeadEnd(answer), is_head);
  if (!plain) return std::nullopt;
  std::string out;
  AppendClientHead(*plain, version, keep_alive, out);
  if (plain->has_body) out.append(answer, plain->size, *plain->content_length);
  return out;
}

void ExpectSameAsGeneralPath(const std::string& answer, bool is_head = false) {
  for (unsigned version : {10u, 11u}) {
    for (bool keep_alive : {false, true}) {
      auto fast = FastPath(answer, is_head, version, keep_alive);
      ASSERT_TRUE(fast) << answer;
      EXPECT_EQ(*fast, GeneralPath(answer, is_head, version, keep_alive))
          << answer << " version " << version << " keep-alive " << keep_alive;
    }
  }
}

// The fast path writes byte for byte what Beast's parser and serializer wrote before it.
TEST(ResponseHeadTest, PlainAnswersMatchTheGeneralPath) {
  ExpectSameAsGeneralPath(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
  ExpectSameAsGeneralPath("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-A:  b \r\n\r\n");
  ExpectSameAsGeneralPath(
      "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: "
      "timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Authenticate: Basic\r\n"
      "Content-Length: 2\r\nTrailer: X\r\n\r\nok");
  ExpectSameAsGeneralPath("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  ExpectSameAsGeneralPath(
      "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
      "Content-Length: 4\r\n\r\nfail");
  // A Connection naming Content-Length cannot remove the answer's length.
  ExpectSameAsGeneralPath(
      "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n"
      "\r\nhi");
  // No body: HEAD, 204, 304 keep running's Content-Length as it is.
  ExpectSameAsGeneralPath("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", true);
  ExpectSameAsGeneralPath("HTTP/1.1 204 No Content\r\nX: y\r\n\r\n");
  ExpectSameAsGeneralPath("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
}

// Anything but the plain case goes to Beast's parser, which decides what it means.
TEST(ResponseHeadTest, LeavesEverythingElseToTheGeneralPath) {
  for (const char* answer : {
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
           "HTTP/1.1 200 OK\r\n\r\n",  // read to EOF
           "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
           "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
           "HTTP/1.1 200 OK\r\nContent-Length: 1 1\r\n\r\nx",
           "HTTP/1.1 200 OK\r\nX : y\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\x01\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
           "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 200 OK\r\nConnection: upgrade\r\nContent-Length: 0\r\n\r\n",
           "HTTP/1.1 200 OK\r\nNo colon\r\nContent-Length: 0\r\n\r\n",
       }) {
    const std::string text(answer);
    EXPECT_FALSE(ParsePlainResponse(text, FindHeadEnd(text), false)) << text;
  }
}

TEST(ResponseHeadTest, ReadsKeepAliveAsRunningMeantIt) {
  const std::string close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  EXPECT_FALSE(ParsePlainResponse(close, FindHeadEnd(close), false)->keep_alive);
  const std::string http10 = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_FALSE(ParsePlainResponse(http10, FindHeadEnd(http10), false)->keep_alive);
  const std::string http10_kept =
      "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(ParsePlainResponse(http10_kept, FindHeadEnd(http10_kept), false)->keep_alive);
  const std::string kept = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_TRUE(ParsePlainResponse(kept, FindHeadEnd(kept), false)->keep_alive);
}

}  // namespace
}  // namespace yoke::proxy
