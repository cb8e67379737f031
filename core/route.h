// Routes: request paths with ids folded, so per-route counts stay small. Pure; thread-safe
// once constructed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace yoke {

class RouteFolder {
 public:
  // `patterns` are routes like "/users/:id/orders" or "/static/*": a ':' segment matches any
  // one segment, a trailing '*' matches the rest. The first pattern that matches names the
  // route; otherwise numeric, UUID and long hex segments become ":id".
  explicit RouteFolder(std::vector<std::string> patterns = {});

  // `target` is the request target; the query string is dropped.
  std::string Fold(std::string_view target) const;

 private:
  std::vector<std::vector<std::string>> patterns_;
  std::vector<std::string> names_;
};

}  // namespace yoke
