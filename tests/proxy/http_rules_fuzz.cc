// libFuzzer target over the proxy's request rules: the raw header scan, Beast's header parse,
// DecideRequest, the head written upstream (for running and for the mirror copy) and the
// chunked decoder. It aborts on any input that has two readings: a rebuilt head that does not
// scan, parse and decide back to the same request, a proxy-owned or hop-by-hop field that
// survives, or a decoder whose result depends on where reads end. Built with clang
// (-fsanitize=fuzzer,address,undefined) by bench/fuzz.sh; the test command runs it for a
// bounded time on the seeds in tests/proxy/fuzz_seeds/. The same input is also read as an
// upstream's answer: when the answer fast path (response_head.h) takes it, Beast's parser must
// read it the same way and the general path must write the same bytes.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "proxy/http_rules.h"
#include "proxy/response_head.h"

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

// A message with its field lines stably sorted by lower-case name: Beast's fields group
// repeated names where running wrote them apart, and the fast path keeps running's order; the
// order of fields of one name (the one that matters, RFC 9110 §5.3) is kept by both.
std::string GroupedByName(const std::string& message) {
  const size_t end = message.find("\r\n\r\n");
  if (end == std::string::npos) return message;
  std::vector<std::string> lines;
  for (size_t at = 0; at < end;) {
    const size_t next = message.find("\r\n", at);
    lines.push_back(message.substr(at, std::min(next, end) - at));
    at = std::min(next, end) + 2;
  }
  auto name = [](const std::string& line) {
    std::string n = line.substr(0, line.find(':'));
    for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return n;
  };
  std::stable_sort(lines.begin() + 1, lines.end(),
                   [&](const std::string& a, const std::string& b) { return name(a) < name(b); });
  std::string out;
  for (const auto& line : lines) out.append(line).append("\r\n");
  return out + message.substr(end + 2);
}

// An answer the fast path takes reads the same through Beast's parser, and the client gets
// the same bytes from either path (up to where repeated field names sit, see GroupedByName).
void CheckPlainAnswer(std::string_view input, bool is_head) {
  auto plain = ParsePlainResponse(input, FindHeadEnd(input), is_head);
  if (!plain) return;
  if (plain->has_body && input.size() - plain->size < *plain->content_length) return;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  if (is_head) parser.skip(true);
  boost::system::error_code ec;
  for (size_t used = 0; !ec && !parser.is_done() && used < input.size();) {
    used += parser.put(boost::asio::buffer(input.data() + used, input.size() - used), ec);
  }
  Check(!ec && parser.is_done(), "an answer the fast path takes does not parse whole");
  Check(parser.get().result_int() == plain->status, "fast path reads another status");
  Check(parser.keep_alive() == plain->keep_alive, "fast path reads another keep-alive");
  auto res = parser.release();
  Check(!plain->has_body || res.body().size() == *plain->content_length,
        "fast path reads another body length");
  for (unsigned version : {10u, 11u}) {
    for (bool keep_alive : {false, true}) {
      std::string fast;
      AppendClientHead(*plain, version, keep_alive, fast);
      if (plain->has_body) fast.append(input.substr(plain->size, *plain->content_length));
      auto general = res;
      StripHopByHop(general);
      general.version(version);
      general.keep_alive(keep_alive);
      if (plain->has_body) general.content_length(general.body().size());
      std::ostringstream out;
      out << general;
      const bool same = GroupedByName(out.str()) == GroupedByName(fast);
      if (!same) {
        std::fprintf(stderr, "fast path:\n%s\ngeneral path:\n%s\n", fast.c_str(),
                     out.str().c_str());
      }
      Check(same, "fast path writes other bytes than the general path");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckPlainAnswer(input, false);
  CheckPlainAnswer(input, true);
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
