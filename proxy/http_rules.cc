#include "proxy/http_rules.h"

#include <boost/beast/http/rfc7230.hpp>
#include <vector>

namespace yoke::proxy {

void StripHopByHop(http::fields& fields) {
  std::vector<std::string> named;
  for (auto range = fields.equal_range(http::field::connection); range.first != range.second;
       ++range.first) {
    for (auto token : http::token_list(range.first->value())) named.emplace_back(token);
  }
  for (const std::string& name : named) fields.erase(name);
  for (http::field f :
       {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
        http::field::te, http::field::trailer, http::field::transfer_encoding, http::field::upgrade,
        http::field::proxy_authenticate, http::field::proxy_authorization}) {
    fields.erase(f);
  }
}

void AddForwarded(http::fields& fields, std::string_view client_ip, std::string_view proto) {
  auto existing = fields.find("X-Forwarded-For");
  if (existing != fields.end()) {
    std::string value(existing->value());
    value.append(", ").append(client_ip);
    fields.set("X-Forwarded-For", value);
  } else {
    fields.set("X-Forwarded-For", client_ip);
  }
  fields.set("X-Forwarded-Proto", proto);
}

std::string SmugglingRisk(const http::fields& fields) {
  auto te_count = fields.count(http::field::transfer_encoding);
  if (te_count == 0) return {};
  if (fields.count(http::field::content_length) > 0) {
    return "both Transfer-Encoding and Content-Length";
  }
  // The final coding of a request must be chunked, or its length is unknowable.
  std::string_view last;
  for (auto range = fields.equal_range(http::field::transfer_encoding); range.first != range.second;
       ++range.first) {
    for (auto token : http::token_list(range.first->value())) last = token;
  }
  if (!boost::beast::iequals(last, "chunked")) return "Transfer-Encoding not ending in chunked";
  return {};
}

http::response<http::string_body> ErrorResponse(http::status status, std::string_view detail,
                                                unsigned version, bool keep_alive) {
  http::response<http::string_body> res{status, version < 10 ? 11 : version};
  res.set(http::field::server, "yoke");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(keep_alive);
  res.body() = std::to_string(res.result_int()) + " " + std::string(res.reason()) + ": " +
               std::string(detail) + "\n";
  res.prepare_payload();
  return res;
}

void PrepareMirrorCopy(http::fields& fields, const MirrorPolicy& policy) {
  for (const std::string& name : policy.strip_headers) fields.erase(name);
  fields.set("Yoke-Mirror", "1");
}

}  // namespace yoke::proxy
