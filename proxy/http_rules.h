// HTTP/1.1 proxy rules as plain functions over Beast headers: hop-by-hop stripping,
// X-Forwarded-*, request validation against smuggling, and the proxy's own error answers.
// No sockets here, so tests call them directly. Thread-safety: pure functions.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "core/mirror_policy.h"

namespace yoke::proxy {

namespace http = boost::beast::http;

// Removes the hop-by-hop fields (Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization) and every field the
// Connection header names. The caller re-adds framing (chunked) where it relays a body.
void StripHopByHop(http::fields& fields);

// Appends the client's address to X-Forwarded-For and sets X-Forwarded-Proto.
void AddForwarded(http::fields& fields, std::string_view client_ip, std::string_view proto);

// Checks a request header that Beast parsed for what Beast lets through but a proxy must not
// forward: Transfer-Encoding together with Content-Length, or a Transfer-Encoding whose last
// coding is not chunked. Returns an empty string when the request is fine, else the reason.
std::string SmugglingRisk(const http::fields& fields);

// The proxy's own answer (400, 413, 431, 502, 504...): a short text body, Connection: close
// unless `keep_alive`.
http::response<http::string_body> ErrorResponse(http::status status, std::string_view detail,
                                                unsigned version, bool keep_alive);

// Turns a request into the copy sent to testing: adds Yoke-Mirror: 1 and strips the
// policy's headers.
void PrepareMirrorCopy(http::fields& fields, const MirrorPolicy& policy);

}  // namespace yoke::proxy
