// libFuzzer target over the proxy's request rules: the raw header scan, Beast's header parse,
// DecideRequest, the head written upstream (for running and for the mirror copy) and the
// chunked decoder. It aborts on any input that has two readings: a rebuilt head that does not
// scan, parse and decide back to the same request, a proxy-owned or hop-by-hop field that
// survives, or a decoder whose result depends on where reads end. Built with clang
// (-fsanitize=fuzzer,address,undefined) by bench/fuzz.sh; the test command runs it for a
// bounded time on the seeds in tests/proxy/fuzz_seeds/.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdio>
#include <cstdlib>

#include "proxy/http_rules.h"

namespace {

using namespace yoke::proxy;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_rules_fuzz: %s\n", what);
    std::abort();
  }
}

std::optional<http::request_header<>> ParseHeader(std::string_view head) {
  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  parser.header_limit(64 * 1024);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec || !parser.is_header_done()) return std::nullopt;
  return parser.release().base();
}

// A head yoke wrote must read back as exactly the request it was written from.
void CheckRebuilt(const std::string& head, const ForwardRequest& decided, bool mirror_copy) {
  HeadScan scan = ScanHead(head, 0);
  Check(scan.error.empty() && scan.end == head.size(), "rebuilt head does not scan whole");
  auto parsed = ParseHeader(head);
  Check(parsed.has_value(), "rebuilt head does not parse");
  size_t hosts = 0, yoke_fields = 0;
  for (const auto& field : *parsed) {
    const std::string_view name = field.name_string();
    if (field.name() == http::field::host) ++hosts;
    if (IsProxyOwnedField(name)) {
      const bool own = field.name() == http::field::host ||
                       field.name() == http::field::content_length ||
                       field.name() == http::field::transfer_encoding ||
                       boost::beast::iequals(name, "x-forwarded-proto") ||
                       (mirror_copy && boost::beast::iequals(name, "yoke-mirror"));
      Check(own, "a proxy-owned or hop-by-hop field survived");
    }
    if (boost::beast::iequals(name.substr(0, std::min<size_t>(5, name.size())), "yoke-")) {
      ++yoke_fields;
    }
  }
  Check(hosts == 1, "not exactly one Host");
  Check(yoke_fields == (mirror_copy ? 1u : 0u), "Yoke-* fields wrong");
  auto again = DecideRequest(*parsed, "127.0.0.1", "up:1");
  Check(static_cast<bool>(again), "rebuilt head is refused");
  Check(again->method == decided.method && again->target == decided.target &&
            again->host == decided.host && again->framing == decided.framing &&
            again->content_length == decided.content_length,
        "rebuilt head reads another way");
}

void CheckChunked(std::string_view body) {
  ChunkedDecoder whole(1 << 20);
  std::string whole_body;
  const size_t whole_used = whole.Feed(body, whole_body);
  ChunkedDecoder bytes(1 << 20);
  std::string bytes_body;
  size_t bytes_used = 0;
  while (bytes_used < body.size() && bytes.state() == ChunkedDecoder::State::kMore) {
    bytes_used += bytes.Feed(body.substr(bytes_used, 1), bytes_body);
  }
  Check(whole.state() == bytes.state(), "decoder state depends on the split");
  if (whole.state() != ChunkedDecoder::State::kError) {
    Check(whole_body == bytes_body && whole_used == bytes_used,
          "decoded body depends on the split");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const HeadScan scan = ScanHead(input, 0);
  // The scan must not depend on where reads end either.
  if (size > 1) {
    const size_t split = data[0] % size;
    HeadScan first = ScanHead(input.substr(0, split), 0);
    if (first.end == std::string_view::npos && first.error.empty()) {
      HeadScan rest = ScanHead(input, split >= 3 ? split - 3 : 0);
      Check(rest.end == scan.end && rest.error.empty() == scan.error.empty(),
            "header scan depends on the split");
    }
  }
  if (scan.end == std::string_view::npos || !scan.error.empty()) return 0;
  auto header = ParseHeader(input.substr(0, scan.end));
  if (!header) return 0;
  auto decided = DecideRequest(*header, "10.0.0.1", "up:1");
  if (!decided) return 0;
  const std::vector<std::string> strip = {"cookie", "authorization"};
  std::string running, copy;
  AppendHead(*decided, false, {}, running);
  AppendHead(*decided, true, strip, copy);
  CheckRebuilt(running, *decided, false);
  CheckRebuilt(copy, *decided, true);
  if (decided->framing == Framing::kChunked) CheckChunked(input.substr(scan.end));
  return 0;
}
