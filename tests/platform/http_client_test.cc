// SendHttpRequest against a real server on 127.0.0.1 (port 0) that plays one scripted
// connection: a plain and a chunked answer, a server that takes the connection and never
// answers (the deadline ends the call in bounded time), a closed port, a body over the cap, a
// streamed body, and answers that are not HTTP.
#include "platform/http_client.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/scripted_server.h"

namespace yoke {
namespace {

using namespace std::chrono_literals;
using testing::ScriptedServer;

HttpRequest Get(uint16_t port, std::string target = "/") {
  HttpRequest request;
  request.host = "127.0.0.1";
  request.port = port;
  request.target = std::move(target);
  return request;
}

HttpCallOptions Options(Millis timeout, uint64_t max_body_bytes = 1 << 20) {
  HttpCallOptions options;
  options.timeout = timeout;
  options.max_body_bytes = max_body_bytes;
  return options;
}

std::string Peer(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// The request goes out as given (method, target, headers, body, a Host field added); the
// status, headers and body come back.
TEST(HttpClientTest, SendsTheRequestAndReadsAPlainAnswer) {
  ScriptedServer server("HTTP/1.1 201 Created\r\nX-Answer: yes\r\nContent-Length: 5\r\n\r\nhello");
  HttpRequest request = Get(server.port(), "/items?x=1");
  request.method = "POST";
  request.headers = {{"Authorization", "Bearer t0k"}};
  request.body = "{\"a\":1}";
  HttpFailure failure = HttpFailure::kBadResponse;
  auto response = SendHttpRequest(request, {}, &failure);
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(failure, HttpFailure::kNone);
  EXPECT_EQ(response->status, 201u);
  EXPECT_EQ(response->Header("x-answer"), "yes");
  EXPECT_EQ(response->Header("X-Missing"), "");
  EXPECT_EQ(response->body, "hello");
  const std::string seen = server.request();
  EXPECT_EQ(seen.rfind("POST /items?x=1 HTTP/1.1\r\n", 0), 0u) << seen;
  EXPECT_NE(seen.find("\r\nAuthorization: Bearer t0k\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\nHost: " + Peer(server.port()) + "\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\nContent-Length: 7\r\n"), std::string::npos) << seen;
  EXPECT_TRUE(seen.ends_with("\r\n\r\n{\"a\":1}")) << seen;
}

// A chunked answer arrives with its framing removed, whatever the chunk sizes.
TEST(HttpClientTest, DecodesAChunkedAnswer) {
  ScriptedServer server(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1\r\n \r\na\r\nchunked!!!\r\n0\r\n\r\n");
  auto response = SendHttpRequest(Get(server.port()));
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(response->body, "hello chunked!!!");
}

// A server that takes the connection and never answers: the call ends at its deadline, says so,
// and tells it apart from a server that is not there.
TEST(HttpClientTest, ASilentServerEndsTheCallAtTheDeadline) {
  ScriptedServer server("", ScriptedServer::Play::kSilent);
  HttpFailure failure = HttpFailure::kNone;
  const auto start = std::chrono::steady_clock::now();
  auto response = SendHttpRequest(Get(server.port()), Options(300ms), &failure);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response);
  EXPECT_EQ(failure, HttpFailure::kNoAnswer);
  EXPECT_EQ(response.error().message(), "no answer from " + Peer(server.port()) + " within 300 ms");
  EXPECT_TRUE(response.error().is(ErrorCode::kUnavailable));
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);  // bounded by the deadline, not by the server
}

// Nothing listens: "cannot connect", both for a request and for a bare TCP check.
TEST(HttpClientTest, AClosedPortCannotBeConnected) {
  const uint16_t port = testing::FreePort();
  HttpFailure failure = HttpFailure::kNone;
  auto response = SendHttpRequest(Get(port), Options(2s), &failure);
  ASSERT_FALSE(response);
  EXPECT_EQ(failure, HttpFailure::kCannotConnect);
  EXPECT_EQ(response.error().message(), "cannot connect to " + Peer(port) + ": Connection refused");
  EXPECT_TRUE(response.error().is(ErrorCode::kUnavailable));
  auto check = CheckTcpConnect("127.0.0.1", port, 2s);
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().message(), "cannot connect to " + Peer(port) + ": Connection refused");
}

// A bare TCP check succeeds as soon as something accepts.
TEST(HttpClientTest, ATcpCheckNeedsOnlyTheConnection) {
  ScriptedServer server("", ScriptedServer::Play::kCloseAtOnce);
  auto check = CheckTcpConnect("127.0.0.1", server.port(), 2s);
  EXPECT_TRUE(check) << check.error().message();
}

// More body than the cap fails, whether the Content-Length says so or a chunked body runs over.
TEST(HttpClientTest, ABodyOverTheCapFails) {
  for (const std::string answer :
       {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n01\r\n2\r\n23\r\n0\r\n\r\n"}) {
    ScriptedServer server(answer);
    HttpFailure failure = HttpFailure::kNone;
    auto response = SendHttpRequest(Get(server.port()), Options(5s, 3), &failure);
    ASSERT_FALSE(response) << answer;
    EXPECT_EQ(failure, HttpFailure::kBodyTooLarge) << answer;
    EXPECT_EQ(response.error().message(),
              "the answer from " + Peer(server.port()) + " has a body larger than 3 bytes");
  }
}

// A large body goes to the sink in pieces, with the status already known, and not into the
// response; the cap counts the streamed bytes too.
TEST(HttpClientTest, StreamsALargeBodyToTheSink) {
  std::string body(300 * 1024, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  ScriptedServer server("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body);
  std::string streamed;
  int pieces = 0;
  unsigned status_seen = 0;
  HttpCallOptions options = Options(5s, body.size());
  options.body_sink = [&](const HttpResponse& head, std::string_view chunk) {
    status_seen = head.status;
    streamed.append(chunk);
    ++pieces;
    return Ok();
  };
  auto response = SendHttpRequest(Get(server.port(), "/artifact.zip"), options);
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 200u);
  EXPECT_EQ(status_seen, 200u);
  EXPECT_TRUE(response->body.empty());
  EXPECT_EQ(streamed.size(), body.size());
  EXPECT_TRUE(streamed == body);
  EXPECT_GT(pieces, 1);
}

// A sink that refuses ends the call with its own error.
TEST(HttpClientTest, ASinkErrorEndsTheCall) {
  ScriptedServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
  HttpCallOptions options = Options(5s);
  options.body_sink = [](const HttpResponse& head, std::string_view) -> Status {
    return Fail("the server answered " + std::to_string(head.status));
  };
  HttpFailure failure = HttpFailure::kNone;
  auto response = SendHttpRequest(Get(server.port()), options, &failure);
  ASSERT_FALSE(response);
  EXPECT_EQ(failure, HttpFailure::kSinkFailed);
  EXPECT_EQ(response.error().message(), "the server answered 404");
}

// With headers_only the status is enough: a body that never comes is not waited for.
TEST(HttpClientTest, HeadersOnlyDoesNotWaitForTheBody) {
  ScriptedServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100000000\r\n\r\nx",
                        ScriptedServer::Play::kAnswer);
  HttpCallOptions options = Options(5s);
  options.headers_only = true;
  auto response = SendHttpRequest(Get(server.port()), options);
  ASSERT_TRUE(response) << response.error().message();
  EXPECT_EQ(response->status, 503u);
  EXPECT_TRUE(response->body.empty());
}

// What is not an HTTP answer is a bad response; a close before any answer is no answer.
TEST(HttpClientTest, TellsABadAnswerFromNoAnswer) {
  {
    ScriptedServer server("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    HttpFailure failure = HttpFailure::kNone;
    auto response = SendHttpRequest(Get(server.port()), {}, &failure);
    ASSERT_FALSE(response);
    EXPECT_EQ(failure, HttpFailure::kBadResponse);
    EXPECT_EQ(response.error().message().rfind("bad answer from " + Peer(server.port()) + ": ", 0),
              0u)
        << response.error().message();
  }
  {
    ScriptedServer server("", ScriptedServer::Play::kCloseAtOnce);
    HttpFailure failure = HttpFailure::kNone;
    auto response = SendHttpRequest(Get(server.port()), {}, &failure);
    ASSERT_FALSE(response);
    EXPECT_EQ(failure, HttpFailure::kNoAnswer);
    EXPECT_NE(response.error().message().find(Peer(server.port())), std::string::npos)
        << response.error().message();
  }
}

}  // namespace
}  // namespace yoke
