// Protobuf records as text: parsing with the position of the first problem, and printing; and
// as JSON (protobuf's json_util), the form /status travels in.
// Pure: the bytes come in and go out as strings. Thread-safety: free functions.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace yoke {

// Parses text format. A bad record is an error "<name>:<line>:<column>: <problem>", where
// `name` says where the text came from (a file, a path in meta). With `locations`, where each
// field was is written there (for provenance).
Status ParseTextRecord(std::string_view name, const std::string& text,
                       google::protobuf::Message* record,
                       google::protobuf::TextFormat::ParseInfoTree* locations = nullptr);

// Parses text format, or the binary wire format when `name` ends in ".pb".
Status ParseRecord(std::string_view name, const std::string& bytes,
                   google::protobuf::Message* record);

StatusOr<std::string> PrintTextRecord(const google::protobuf::Message& record);

// Prints proto3 JSON on one line: the proto field names as keys (snake_case), every primitive
// field even when zero or empty, map entries ordered by key, 64-bit integers as strings (the
// JSON mapping's rule), an unset message or `optional` field left out.
StatusOr<std::string> PrintJsonRecord(const google::protobuf::Message& record);

// Parses proto3 JSON, ignoring fields the schema does not know, so a newer writer's document
// still reads. A document that is not a JSON object, or a known field of the wrong type, is an
// error "<name>: <problem>".
Status ParseJsonRecord(std::string_view name, std::string_view json,
                       google::protobuf::Message* record);

}  // namespace yoke
