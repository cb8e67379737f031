// yoke's one error vocabulary. Every call that can fail returns Status or StatusOr<T>;
// errors from Boost, libgit2, protobuf and the OS are turned into an Error at the adapter
// that calls the library. Thread-safety: plain values.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace yoke {

class Error {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

template <typename T>
using StatusOr = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(std::string message) {
  return std::unexpected<Error>(Error(std::move(message)));
}
inline Status Ok() { return {}; }

}  // namespace yoke

#define YOKE_CONCAT_INNER(a, b) a##b
#define YOKE_CONCAT(a, b) YOKE_CONCAT_INNER(a, b)

#define YOKE_RETURN_IF_ERROR(expr)                                   \
  do {                                                               \
    auto yoke_status_ = (expr);                                      \
    if (!yoke_status_) return std::unexpected(yoke_status_.error()); \
  } while (0)

#define YOKE_ASSIGN_OR_RETURN(lhs, expr) \
  YOKE_ASSIGN_OR_RETURN_IMPL(YOKE_CONCAT(yoke_statusor_, __LINE__), lhs, expr)
#define YOKE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)          \
  auto tmp = (expr);                                        \
  if (!tmp) return std::unexpected(std::move(tmp).error()); \
  lhs = std::move(*tmp)
