// Reading and writing protobuf records as text files. Writes are atomic (temp file, fsync,
// rename), so a crash leaves the old record or the new one, never half of one.
// Thread-safety: free functions; concurrent writers to one path must be serialised by the caller.
#pragma once

#include <google/protobuf/message.h>

#include <filesystem>
#include <string>

#include "core/status.h"

namespace yoke {

Status WriteFileAtomic(const std::filesystem::path& path, const std::string& content);
StatusOr<std::string> ReadFile(const std::filesystem::path& path);

Status WriteTextRecord(const std::filesystem::path& path, const google::protobuf::Message& record);
// Parses text format; a bad record is an error naming the path, line and column.
Status ReadTextRecord(const std::filesystem::path& path, google::protobuf::Message* record);
// The same for text already read (from an archive, say); `name` is used in the error.
Status ParseTextRecord(const std::string& text, const std::string& name,
                       google::protobuf::Message* record);

}  // namespace yoke
