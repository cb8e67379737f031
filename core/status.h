// yoke's one error vocabulary. Every call that can fail returns Status or StatusOr<T>;
// errors from Boost, libgit2, protobuf and the OS are turned into an Error at the adapter
// that calls the library, with a code where a caller may branch on the kind of failure.
// Thread-safety: plain values.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace yoke {

// What kind of failure an Error is, for callers that branch on it (a missing journal is a first
// start; any other read failure is a problem). kUnknown is every error nobody branches on yet.
enum class ErrorCode {
  kUnknown,
  kNotFound,     // the file, record, version or object does not exist
  kInvalid,      // the input is malformed or breaks a rule (bad config, bad record, bad version)
  kIo,           // the operating system refused a read or write (EIO, ENOSPC, EACCES, ...)
  kConflict,     // the state changed underneath (a ref moved, a folder exists already)
  kUnavailable,  // a peer did not answer (a remote, a server); trying again may work
};

// The code's name, for logs and tests: "not found", "invalid", ...
const char* ErrorCodeName(ErrorCode code);

class Error {
 public:
  explicit Error(std::string message, ErrorCode code = ErrorCode::kUnknown)
      : code_(code), message_(std::move(message)) {}
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool is(ErrorCode code) const { return code_ == code; }

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
using StatusOr = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(std::string message, ErrorCode code = ErrorCode::kUnknown) {
  return std::unexpected<Error>(Error(std::move(message), code));
}
inline std::unexpected<Error> NotFound(std::string message) {
  return Fail(std::move(message), ErrorCode::kNotFound);
}
inline std::unexpected<Error> Invalid(std::string message) {
  return Fail(std::move(message), ErrorCode::kInvalid);
}
inline std::unexpected<Error> IoError(std::string message) {
  return Fail(std::move(message), ErrorCode::kIo);
}
inline std::unexpected<Error> Conflict(std::string message) {
  return Fail(std::move(message), ErrorCode::kConflict);
}
inline std::unexpected<Error> Unavailable(std::string message) {
  return Fail(std::move(message), ErrorCode::kUnavailable);
}
// The code an errno value stands for: ENOENT and ENOTDIR are kNotFound, EEXIST kConflict, the
// rest kIo.
ErrorCode ErrorCodeOfErrno(int err);
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
