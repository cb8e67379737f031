// The fast path for an upstream's answer: a response head read as views of the read buffer,
// and the head the client gets built by hand into one string, without Beast's parser (a heap
// node per field) or its serializer. It takes only the plain case: a final status (not 1xx),
// one valid Content-Length or no body by its status, no Transfer-Encoding, every line well
// formed. Anything else gets nullopt, and the proxy hands the same bytes to Beast's parser (the
// general path), so the fast path never decides what an odd answer means. What it builds is
// byte for byte what the general path writes (tests/proxy/response_head_test.cc and the fuzzer
// compare them), except that a field name running repeats apart stays where running put it
// (Beast's fields group repeated names; the order within one name is the same).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace yoke::proxy {

struct ResponseHead {
  unsigned version = 11;  // running's: 10 or 11
  unsigned status = 0;
  std::string_view reason;
  std::optional<uint64_t> content_length;
  bool keep_alive = false;  // running keeps the connection after this answer
  bool has_body = false;    // false for HEAD, 204, 304: no body bytes follow the head
  size_t size = 0;          // bytes of the head, the blank line included
  std::string_view fields;  // the field lines, each ending in CRLF
};

// Where a head ends in `data` (just past the blank line), or npos.
size_t FindHeadEnd(std::string_view data);

// Parses the response head at the start of `data` (`head_end` from FindHeadEnd). `is_head`:
// the request was HEAD, so no body follows. Nullopt: not the plain case (see above).
std::optional<ResponseHead> ParsePlainResponse(std::string_view data, size_t head_end,
                                               bool is_head);

// Appends the head the client gets for `r`: the status line in the client's `version`,
// running's fields without hop-by-hop ones (Connection and the fields it names, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate,
// Proxy-Authorization), then Connection as `keep_alive` needs it for that version, then
// Content-Length (when a body follows: the length of the body the proxy read).
void AppendClientHead(const ResponseHead& r, unsigned version, bool keep_alive, std::string& out);

}  // namespace yoke::proxy
