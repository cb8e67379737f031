// Protobuf records as text: parsing with the position of the first problem, and printing.
// Pure: the bytes come in and go out as strings. Thread-safety: free functions.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace yoke {

// Parses text format. A bad record is an error "<name>:<line>:<column>: <problem>", where
// `name` says where the text came from (a file, a path in meta).
Status ParseTextRecord(std::string_view name, const std::string& text,
                       google::protobuf::Message* record);

// Parses text format, or the binary wire format when `name` ends in ".pb".
Status ParseRecord(std::string_view name, const std::string& bytes,
                   google::protobuf::Message* record);

StatusOr<std::string> PrintTextRecord(const google::protobuf::Message& record);

}  // namespace yoke
