// Micro-benchmark of the proxy's per-request work without the kernel: parse a request head,
// decide (DecideRequest), serialise running's head and the mirror copy's; and, for the answer,
// parse running's response head and build the client's. ns per request, so each step of the
// speed work (issue 13) shows without the loopback's noise. Run: build/yoke_rules_bench.
#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <string>
#include <vector>

#include "proxy/http_rules.h"
#include "proxy/response_head.h"

namespace yoke::proxy {
namespace {

// What wrk sends, and a browser-like request with a cookie the mirror strips.
const std::string kWrkRequest = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:18099\r\n\r\n";
const std::string kBrowserRequest =
    "GET /users/42/orders?page=2 HTTP/1.1\r\nHost: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\nCookie: session=0123456789abcdef; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\n"
    "X-Forwarded-For: 203.0.113.7\r\n\r\n";
const std::string kResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n"
    "Date: Mon, 30 Nov 2026 04:00:00 GMT\r\n\r\n" +
    std::string(100, 'x');

const std::vector<std::string> kStrip = {"cookie", "authorization"};

// Before issue 13: Beast's request parser (a heap node per field), then DecideRequest on its
// header, then two heads built from the decision.
void BeastParseDecideSerialise(benchmark::State& state, const std::string& request) {
  std::string running, copy;
  for (auto _ : state) {
    http::request_parser<http::empty_body> parser;
    parser.eager(false);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(request), ec);
    auto decided = DecideRequest(parser.get().base(), "127.0.0.1", "127.0.0.1:18081");
    running.clear();
    copy.clear();
    AppendHead(*decided, false, {}, running);
    AppendHead(*decided, true, kStrip, copy);
    benchmark::DoNotOptimize(running.data());
    benchmark::DoNotOptimize(copy.data());
  }
}
BENCHMARK_CAPTURE(BeastParseDecideSerialise, wrk, kWrkRequest);
BENCHMARK_CAPTURE(BeastParseDecideSerialise, browser, kBrowserRequest);

// Before issue 13: running's answer through Beast's response parser (header, then the whole
// body as a string), hop-by-hop fields removed, and Beast's serializer writing it out.
void BeastResponse(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    http::response_parser<http::empty_body> header;
    header.body_limit(boost::none);
    boost::system::error_code ec;
    const size_t used = header.put(boost::asio::buffer(kResponse), ec);
    http::response_parser<http::string_body> full{std::move(header)};
    full.put(boost::asio::buffer(kResponse.data() + used, kResponse.size() - used), ec);
    auto res = full.release();
    StripHopByHop(res);
    res.keep_alive(true);
    res.content_length(res.body().size());
    http::serializer<false, http::string_body> sr{res};
    out.clear();
    sr.split(false);
    do {
      sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
        for (auto b : boost::beast::buffers_range_ref(buffers)) {
          out.append(static_cast<const char*>(b.data()), b.size());
        }
        sr.consume(boost::beast::buffer_bytes(buffers));
      });
    } while (!sr.is_done() && !ec);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BeastResponse);

// Issue 13: the same answer on the fast path (response_head.h): views of the read buffer, the
// client's head built by hand; the body is not copied (it goes out in a gather write).
void PlainResponse(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    auto plain = ParsePlainResponse(kResponse, FindHeadEnd(kResponse), false);
    out.clear();
    AppendClientHead(*plain, 11, true, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(PlainResponse);

}  // namespace
}  // namespace yoke::proxy

BENCHMARK_MAIN();
