#include "core/status.h"

#include <cerrno>

namespace yoke {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown:
      return "error";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kInvalid:
      return "invalid";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "error";
}

ErrorCode ErrorCodeOfErrno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return ErrorCode::kNotFound;
    case EEXIST:
    case ENOTEMPTY:
      return ErrorCode::kConflict;
    default:
      return ErrorCode::kIo;
  }
}

}  // namespace yoke
