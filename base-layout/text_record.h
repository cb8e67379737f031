// Reading and writing protobuf records as text files through an Env. Writes are atomic and
// durable (Env::WriteFileAtomic), so a crash leaves the old record or the new one, never half
// of one.
// Thread-safety: free functions; concurrent writers to one path must be serialised by the caller.
#pragma once

#include <google/protobuf/message.h>

#include <filesystem>
#include <string>

#include "core/env.h"
#include "core/status.h"

namespace yoke {

Status WriteTextRecord(Env& env, const std::filesystem::path& path,
                       const google::protobuf::Message& record);
// Parses text format; a bad record is kInvalid, naming the path, line and column. A missing
// file is kNotFound.
Status ReadTextRecord(Env& env, const std::filesystem::path& path,
                      google::protobuf::Message* record);

}  // namespace yoke
