// Fetches a release's artifact to a local file, hashing it on the way: from a local path,
// file:// or http:// (plain HTTP/1.1, one GET, redirects not followed). https:// is refused
// with a clear message: put the artifact behind http on a trusted network, or on a shared path.
// Blocking; bounded by `timeout` and by `max_bytes`. Thread-safety: free function.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "core/status.h"
#include "meta/digest.h"

namespace yoke::meta {

StatusOr<FileDigest> FetchArtifact(const std::string& uri, const std::filesystem::path& to,
                                   uint64_t max_bytes, std::chrono::seconds timeout);

}  // namespace yoke::meta
