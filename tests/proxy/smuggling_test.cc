// Request smuggling and parsing, tried from outside as an attacker would: raw bytes go through
// a real `yoke proxy` process to raw recorder backends on 127.0.0.1 (running, and testing for
// the mirror copy), and each case asserts the exact bytes each backend received and the exact
// answers the client got: refused, or forwarded in one normal form, never read two ways. Cases
// come from RFC 9112 (request line §3, fields §5, framing §6, chunked §7), RFC 9110 (§7.2 Host,
// §7.6.1 Connection, §8.6 Content-Length) and the public smuggling categories (CL.TE, TE.CL,
// TE.TE, hop-by-hop abuse, h2c upgrade, pipelining, HTTP/1.0 keep-alive). Every wait is bounded;
// the proxy is stopped by its pid.
#include <gtest/gtest.h>

#include "tests/fakes/http_client.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/raw_recorder.h"
#include "tests/fakes/temp_dir.h"

namespace yoke::testing {
namespace {

using namespace std::chrono_literals;

// The exact request running must receive: Host first, the client's end-to-end fields, the
// X-Forwarded-* pair, then the proxy's own framing field.
std::string Up(const std::string& line, const std::string& host,
               const std::vector<std::string>& fields, const std::string& framing = "",
               const std::string& body = "") {
  std::string s = line + "\r\nHost: " + host + "\r\n";
  for (const auto& f : fields) s += f + "\r\n";
  s += "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n";
  if (!framing.empty()) s += framing + "\r\n";
  return s + "\r\n" + body;
}

// What testing must receive for a request running received: credentials stripped, marked.
std::string MirrorOf(const std::string& request) {
  std::string out;
  const size_t head_end = request.find("\r\n\r\n") + 2;
  for (size_t line = 0; line < head_end;) {
    const size_t eol = request.find("\r\n", line) + 2;
    const std::string field = request.substr(line, eol - line);
    line = eol;
    std::string lower = field;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.starts_with("cookie:") || lower.starts_with("authorization:")) continue;
    out += field;
    if (lower.starts_with("x-forwarded-proto:")) out += "Yoke-Mirror: 1\r\n";
  }
  return out + request.substr(head_end);
}

struct Case {
  std::string name;
  std::string send;                   // the client's raw bytes
  int status = 200;                   // non-200: refused; the connection must close
  std::vector<std::string> upstream;  // with 200: exactly what running receives, in order
  bool keep = true;                   // whether the client connection stays open after
  bool head = false;
};

std::string Big(size_t n) { return std::string(n, 'b'); }

std::vector<Case> Cases() {
  const std::string h = "Host: h\r\n";
  const std::string big(100 * 1024, 'x');
  const std::string hidden = "GET /hidden HTTP/1.1\r\nHost: h\r\n\r\n";
  std::vector<Case> c = {
      // Plain requests, normalised.
      {"get", "GET / HTTP/1.1\r\n" + h + "\r\n", 200, {Up("GET / HTTP/1.1", "h", {})}},
      {"get with query and fields",
       "GET /a?b=1&c HTTP/1.1\r\nAccept: */*\r\n" + h + "X-A: 1\r\n\r\n",
       200,
       {Up("GET /a?b=1&c HTTP/1.1", "h", {"Accept: */*", "X-A: 1"})}},
      {"post with length",
       "POST /p HTTP/1.1\r\n" + h + "Content-Length: 5\r\n\r\nhello",
       200,
       {Up("POST /p HTTP/1.1", "h", {}, "Content-Length: 5", "hello")}},
      {"length with leading zeros",
       "POST /p HTTP/1.1\r\n" + h + "Content-Length: 005\r\n\r\nhello",
       200,
       {Up("POST /p HTTP/1.1", "h", {}, "Content-Length: 5", "hello")}},
      {"length list of equal values",
       "POST /p HTTP/1.1\r\n" + h + "Content-Length: 5, 5\r\n\r\nhello",
       200,
       {Up("POST /p HTTP/1.1", "h", {}, "Content-Length: 5", "hello")}},
      {"two equal length fields",
       "POST /p HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
       200,
       {Up("POST /p HTTP/1.1", "h", {}, "Content-Length: 5", "hello")}},
      {"zero length",
       "POST /p HTTP/1.1\r\n" + h + "Content-Length: 0\r\n\r\n",
       200,
       {Up("POST /p HTTP/1.1", "h", {}, "Content-Length: 0")}},
      {"get with a body",
       "GET /g HTTP/1.1\r\n" + h + "Content-Length: 3\r\n\r\nabc",
       200,
       {Up("GET /g HTTP/1.1", "h", {}, "Content-Length: 3", "abc")}},
      {"head",
       "HEAD /h HTTP/1.1\r\n" + h + "\r\n",
       200,
       {Up("HEAD /h HTTP/1.1", "h", {})},
       true,
       true},
      {"options asterisk",
       "OPTIONS * HTTP/1.1\r\n" + h + "\r\n",
       200,
       {Up("OPTIONS * HTTP/1.1", "h", {})}},
      {"host with port",
       "GET / HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "shop.example:8080", {})}},
      {"ipv6 host",
       "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "[::1]:80", {})}},
      {"obs-text in a value",
       "GET / HTTP/1.1\r\n" + h + "X-Name: caf\xc3\xa9\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {"X-Name: caf\xc3\xa9"})}},
      {"large body streams, not mirrored",
       "POST /big HTTP/1.1\r\n" + h + "Content-Length: " + std::to_string(big.size()) + "\r\n\r\n" +
           big,
       200,
       {Up("POST /big HTTP/1.1", "h", {}, "Content-Length: 102400", big)}},
      // Chunked bodies: decoded strictly, written again in the proxy's framing, no trailers.
      {"chunked",
       "POST /c HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       200,
       {Up("POST /c HTTP/1.1", "h", {}, "Transfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n")}},
      {"chunked, upper case and extensions",
       "POST /c HTTP/1.1\r\n" + h +
           "Transfer-Encoding: Chunked\r\n\r\n0A;x=y\r\n0123456789\r\n0\r\n\r\n",
       200,
       {Up("POST /c HTTP/1.1", "h", {}, "Transfer-Encoding: chunked",
           "a\r\n0123456789\r\n0\r\n\r\n")}},
      // Defect 2: trailers never become headers, whatever they name.
      {"trailers are dropped",
       "POST /c HTTP/1.1\r\n" + h +
           "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nHost: evil\r\nX-Forwarded-For: "
           "6.6.6.6\r\n"
           "Yoke-Mirror: 1\r\nProxy-Authorization: x\r\n\r\n",
       200,
       {Up("POST /c HTTP/1.1", "h", {}, "Transfer-Encoding: chunked", "3\r\nabc\r\n0\r\n\r\n")}},
      // Defect 1: Connection cannot remove framing or routing; it removes what else it names.
      {"connection names content-length",
       "POST /p HTTP/1.1\r\n" + h + "Connection: Content-Length\r\nContent-Length: " +
           std::to_string(hidden.size()) + "\r\n\r\n" + hidden,
       200,
       {Up("POST /p HTTP/1.1", "h", {}, "Content-Length: " + std::to_string(hidden.size()),
           hidden)}},
      {"connection names transfer-encoding",
       "POST /c HTTP/1.1\r\n" + h +
           "Connection: Transfer-Encoding\r\nTransfer-Encoding: "
           "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
       200,
       {Up("POST /c HTTP/1.1", "h", {}, "Transfer-Encoding: chunked", "2\r\nok\r\n0\r\n\r\n")}},
      {"connection names host",
       "GET / HTTP/1.1\r\nConnection: Host\r\n" + h + "\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {})}},
      {"connection names a private field",
       "GET / HTTP/1.1\r\n" + h +
           "Connection: X-Private, keep-alive\r\nX-Private: 1\r\nX-Kept: 2\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {"X-Kept: 2"})}},
      // Defect 3: the proxy's own fields never come from users.
      {"yoke-mirror from a user",
       "POST /pay HTTP/1.1\r\n" + h +
           "Yoke-Mirror: 1\r\nYOKE-Other: 2\r\n"
           "Content-Length: 0\r\n\r\n",
       200,
       {Up("POST /pay HTTP/1.1", "h", {}, "Content-Length: 0")}},
      {"forwarded-for from an untrusted peer is replaced",
       "GET / HTTP/1.1\r\n" + h + "X-Forwarded-For: 1.2.3.4\r\n\r\n",
       200,
       {"GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\n"
        "X-Forwarded-Proto: http\r\n\r\n"}},
      {"forwarded-proto is the proxy's",
       "GET / HTTP/1.1\r\n" + h + "X-Forwarded-Proto: https\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {})}},
      {"hop-by-hop fields",
       "GET / HTTP/1.1\r\n" + h +
           "Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic "
           "x\r\n"
           "Proxy-Connection: keep-alive\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {})}},
      {"h2c upgrade is not taken",
       "GET / HTTP/1.1\r\n" + h +
           "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: "
           "AAMAAABkAAQAAP__\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {})}},
      {"websocket upgrade is not taken",
       "GET /ws HTTP/1.1\r\n" + h +
           "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\n\r\n",
       200,
       {Up("GET /ws HTTP/1.1", "h", {"Sec-WebSocket-Key: x"})}},
      {"credentials go to running only",
       "GET / HTTP/1.1\r\n" + h + "Cookie: s=1\r\nAuthorization: Bearer t\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {"Cookie: s=1", "Authorization: Bearer t"})}},
      {"expect 100-continue",
       "PUT /u HTTP/1.1\r\n" + h + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
       200,
       {Up("PUT /u HTTP/1.1", "h", {}, "Content-Length: 2", "ok")}},
      // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
      {"absolute form",
       "GET http://other:81/x?y HTTP/1.1\r\n" + h + "\r\n",
       200,
       {Up("GET /x?y HTTP/1.1", "other:81", {})}},
      {"absolute form, https and no path",
       "GET HTTPS://other HTTP/1.1\r\n" + h + "\r\n",
       200,
       {Up("GET / HTTP/1.1", "other", {})}},
      // HTTP/1.0: close by default, keep-alive when asked; a Host is supplied.
      {"http/1.0 closes", "GET / HTTP/1.0\r\n\r\n", 200, {}, false},
      {"http/1.0 keep-alive",
       "GET / HTTP/1.0\r\nConnection: keep-alive\r\n" + h + "\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {})}},
      {"connection close",
       "GET / HTTP/1.1\r\n" + h + "Connection: close\r\n\r\n",
       200,
       {Up("GET / HTTP/1.1", "h", {})},
       false},
      // Pipelining: each request read once, answered in order.
      {"two gets pipelined",
       "GET /1 HTTP/1.1\r\n" + h + "\r\nGET /2 HTTP/1.1\r\n" + h + "\r\n",
       200,
       {Up("GET /1 HTTP/1.1", "h", {}), Up("GET /2 HTTP/1.1", "h", {})}},
      {"post then get pipelined",
       "POST /1 HTTP/1.1\r\n" + h + "Content-Length: 2\r\n\r\nokGET /2 HTTP/1.1\r\n" + h + "\r\n",
       200,
       {Up("POST /1 HTTP/1.1", "h", {}, "Content-Length: 2", "ok"),
        Up("GET /2 HTTP/1.1", "h", {})}},
      {"chunked then get pipelined",
       "POST /1 HTTP/1.1\r\n" + h +
           "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /2 HTTP/1.1\r\n" + h + "\r\n",
       200,
       {Up("POST /1 HTTP/1.1", "h", {}, "Transfer-Encoding: chunked", "1\r\nx\r\n0\r\n\r\n"),
        Up("GET /2 HTTP/1.1", "h", {})}},
  };
  // The 1.0 request without Host is sent to running with running's address as Host: filled in
  // by the test once the port is known.
  const std::vector<std::pair<std::string, std::string>> refused = {
      // CL.TE, TE.CL and TE.TE.
      {"CL.TE", "POST / HTTP/1.1\r\n" + h +
                    "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"},
      {"TE.CL",
       "POST / HTTP/1.1\r\n" + h +
           "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n"},
      {"TE.TE duplicate fields",
       "POST / HTTP/1.1\r\n" + h +
           "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n"},
      {"TE.TE space before colon",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
      {"TE.TE vertical tab", "POST / HTTP/1.1\r\n" + h +
                                 "Transfer-Encoding: \x0b"
                                 "chunked\r\n\r\n0\r\n\r\n"},
      {"TE.TE quoted",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"},
      {"obs-fold", "GET / HTTP/1.1\r\n" + h + "X-Fold: a\r\n b\r\n\r\n"},
      {"space before the first field", "GET / HTTP/1.1\r\n " + h + "\r\n"},
      {"TE.TE folded",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
      {"TE.TE header name with nul",
       "POST / HTTP/1.1\r\n" + h + std::string("Transfer-Encoding\0: chunked\r\n\r\n", 31)},
      {"TE on http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"two different lengths",
       "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
      {"length list that differs",
       "POST / HTTP/1.1\r\n" + h + "Content-Length: 5, 6\r\n\r\nhello!"},
      {"negative length", "POST / HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n"},
      {"signed length", "POST / HTTP/1.1\r\n" + h + "Content-Length: +5\r\n\r\nhello"},
      {"hex length", "POST / HTTP/1.1\r\n" + h + "Content-Length: 0x5\r\n\r\nhello"},
      {"length with inner space", "POST / HTTP/1.1\r\n" + h + "Content-Length: 5 5\r\n\r\nhello"},
      {"no host", "GET / HTTP/1.1\r\n\r\n"},
      {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"host list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"},
      {"host with userinfo", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n"},
      {"host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
      {"connect", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"},
      {"authority form", "GET h:443 HTTP/1.1\r\n" + h + "\r\n"},
      {"asterisk for get", "GET * HTTP/1.1\r\n" + h + "\r\n"},
      {"absolute form with userinfo", "GET http://u:p@h/ HTTP/1.1\r\n" + h + "\r\n"},
      {"absolute form, other scheme", "GET ftp://h/ HTTP/1.1\r\n" + h + "\r\n"},
      {"fragment in target", "GET /a#b HTTP/1.1\r\n" + h + "\r\n"},
      {"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
      {"http/0.9", "GET /\r\n\r\n"},
      {"bare LF request line", "GET / HTTP/1.1\n" + h + "\r\n"},
      {"bare LF headers", "GET / HTTP/1.1\r\nHost: h\nX-A: 1\r\n\r\n"},
      {"bare CR", "GET / HTTP/1.1\r\nHost: h\rX-A: 1\r\n\r\n"},
      {"double space in request line", "GET  / HTTP/1.1\r\n" + h + "\r\n"},
      {"nul in a value", "GET / HTTP/1.1\r\n" + h + std::string("X-A: a\0b\r\n\r\n", 12)},
      {"space in a field name", "GET / HTTP/1.1\r\n" + h + "X A: 1\r\n\r\n"},
      // Defect 5: a chunk line ended by a bare LF is refused at once, never a hang.
      {"chunk line with bare LF",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"},
      {"chunk data without CRLF",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"},
      {"chunk size overflow", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n1" +
                                  std::string(16, '0') + "\r\nx\r\n"},
      {"negative chunk size",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"},
      {"control byte in chunk extension",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n1;\x01\r\nx\r\n0\r\n\r\n"},
      {"trailer with bare LF",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n"},
      {"unknown coding",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
      {"expect other than 100-continue",
       "PUT / HTTP/1.1\r\n" + h + "Expect: 200-ok\r\nContent-Length: 0\r\n\r\n"},
      {"header too large", "GET / HTTP/1.1\r\n" + h + "X-Big: " + Big(20000) + "\r\n\r\n"},
      {"length over the body limit",
       "POST / HTTP/1.1\r\n" + h + "Content-Length: 999999999999\r\n\r\n"},
      {"chunk over the body limit",
       "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFF\r\nx"},
  };
  const std::map<std::string, int> statuses = {{"unknown coding", 501},
                                               {"expect other than 100-continue", 417},
                                               {"header too large", 431},
                                               {"length over the body limit", 413},
                                               {"chunk over the body limit", 413}};
  for (const auto& [name, bytes] : refused) {
    auto status = statuses.find(name);
    c.push_back({name, bytes, status == statuses.end() ? 400 : status->second, {}, false});
  }
  return c;
}

class SmugglingTest : public ::testing::Test {
 protected:
  SmugglingTest() : running_("running"), testing_("testing"), port_(FreePort()) {
    proxy_ = std::make_unique<Subprocess>(
        std::vector<std::string>{YokeBinary().string(), "proxy", "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--running",
                                 "127.0.0.1:" + std::to_string(running_.port()), "--testing",
                                 "127.0.0.1:" + std::to_string(testing_.port()), "--mirror-methods",
                                 "GET,HEAD,OPTIONS,POST,PUT,PATCH,DELETE"},
        dir_.path() / "proxy.out");
    if (!WaitUntil([&] { return HttpGet(port_, "/up").status == 200; }, 10s)) {
      ADD_FAILURE() << ReadAll(dir_.path() / "proxy.out");
    }
    // The probe's copy reaches testing after its answer reaches us: wait for it, or it can land
    // after the first case cleared the recorder and count as that case's.
    EXPECT_TRUE(WaitUntil([&] { return !testing_.Requests().empty(); }, 3s));
  }

  TempDir dir_;
  RawRecorder running_;
  RawRecorder testing_;
  uint16_t port_;
  std::unique_ptr<Subprocess> proxy_;  // stopped (by pid) before the recorders go
};

std::string TargetOf(const std::string& request) {
  const size_t sp1 = request.find(' ');
  return request.substr(sp1 + 1, request.find(' ', sp1 + 1) - sp1 - 1);
}

// Every case, through running and the mirror: refused with its status and nothing forwarded,
// or forwarded exactly as expected with answers in order; then the connection is either
// closed or still in step (a probe request gets its own answer).
TEST_F(SmugglingTest, EveryCaseHasOneReadingOrIsRefused) {
  std::vector<Case> cases = Cases();
  const std::string running_host = "127.0.0.1:" + std::to_string(running_.port());
  for (Case& c : cases) {
    if (c.name == "http/1.0 closes") c.upstream = {Up("GET / HTTP/1.1", running_host, {})};
  }
  int failed = 0, hangs = 0;
  auto run = [&](const Case& c) {
    running_.Clear();
    testing_.Clear();
    const auto started = std::chrono::steady_clock::now();
    HttpClient client(port_);
    ASSERT_TRUE(client.connected());
    client.SendRaw(c.send);
    auto read = [&] {
      auto res = client.Read(3s, c.head);
      while (res && res->result_int() / 100 == 1) res = client.Read(3s, c.head);
      return res;
    };
    if (c.status != 200) {
      auto res = read();
      if (!res) {
        ++hangs;
        ADD_FAILURE() << "no answer";
        return;
      }
      EXPECT_EQ(res->result_int(), c.status) << res->body();
      EXPECT_TRUE(client.ClosedByPeer(3s));
      EXPECT_TRUE(running_.Requests().empty());
      EXPECT_TRUE(testing_.Requests().empty());
    } else {
      for (const std::string& expected : c.upstream) {
        auto res = read();
        if (!res) {
          ++hangs;
          ADD_FAILURE() << "no answer";
          break;
        }
        EXPECT_EQ(res->result_int(), 200) << res->body();
        if (!c.head) {
          EXPECT_TRUE(res->body().starts_with("running ")) << res->body();
          EXPECT_TRUE(res->body().ends_with(" " + TargetOf(expected))) << res->body();
        }
      }
      EXPECT_TRUE(WaitUntil([&] { return running_.Requests().size() >= c.upstream.size(); }, 3s));
      EXPECT_EQ(running_.Requests(), c.upstream);
      // Copied to testing: every forwarded request with a known length within the mirror's
      // body limit (64 KiB); chunked and larger bodies are not.
      std::vector<std::string> copies;
      for (const auto& r : c.upstream) {
        const std::string head = r.substr(0, r.find("\r\n\r\n"));
        if (head.find("Transfer-Encoding: chunked") == std::string::npos &&
            r.size() - head.size() <= 64 * 1024 + 4) {
          copies.push_back(MirrorOf(r));
        }
      }
      EXPECT_TRUE(WaitUntil([&] { return testing_.Requests().size() >= copies.size(); }, 3s));
      auto got = testing_.Requests();
      std::sort(got.begin(), got.end());
      std::sort(copies.begin(), copies.end());
      EXPECT_EQ(got, copies);
      if (c.keep) {
        client.SendRaw("GET /probe HTTP/1.1\r\nHost: p\r\n\r\n");
        auto probe = client.Read(3s);
        if (!probe) {
          ADD_FAILURE() << "no answer to the probe";
          return;
        }
        EXPECT_TRUE(probe->body().starts_with("running ")) << probe->body();
        EXPECT_TRUE(probe->body().ends_with(" /probe")) << "out of step: " << probe->body();
        // The probe is a GET, so it is mirrored too: its copy must land before the next case.
        EXPECT_TRUE(WaitUntil([&] { return testing_.Requests().size() == copies.size() + 1; }, 3s));
      } else {
        EXPECT_TRUE(client.ClosedByPeer(3s));
      }
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "slow: a hang in disguise";
  };
  auto failures = [] {
    return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const int before = failures();
    run(c);
    failed += failures() != before;
  }
  EXPECT_EQ(running_.ambiguous(), 0) << running_.garbage();
  EXPECT_EQ(testing_.ambiguous(), 0) << testing_.garbage();
  std::printf("smuggling suite: %zu cases, %d failed, %d hangs, %d ambiguous at the backends\n",
              cases.size(), failed, hangs, running_.ambiguous() + testing_.ambiguous());
}

}  // namespace
}  // namespace yoke::testing
