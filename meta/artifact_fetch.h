// Fetches a release's artifact to a local file, hashing it on the way: from a local path,
// file://, http:// or https:// (libcurl through platform/http_client: a private CA, a bearer
// token or basic auth from a 0600 file, bounded redirects, progress). Blocking; bounded by
// `timeout` and by `max_bytes`. Thread-safety: free function.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "core/status.h"
#include "meta/digest.h"

namespace yoke::meta {

struct ArtifactFetchOptions {
  uint64_t max_bytes = 0;  // the release's size: more fails the fetch
  std::chrono::seconds timeout{600};
  // https: the CA certificates (PEM) the server's certificate must chain to; empty: the system's.
  std::string ca_file;
  // A file holding a bearer token (sent as Authorization: Bearer <token>) or "user:password"
  // for basic auth. Each must be a regular file no one but its owner may read or write (0600 or
  // 0400): anything looser is refused, like ssh refuses a loose key. Trailing whitespace is
  // dropped. At most one of the two.
  std::string token_file;
  std::string basic_auth_file;
  // Redirects followed (http and https only); the credentials go only to the first host.
  unsigned max_redirects = 5;
  // Bytes so far and the total (0: unknown), as they arrive.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

StatusOr<FileDigest> FetchArtifact(const std::string& uri, const std::filesystem::path& to,
                                   const ArtifactFetchOptions& options);
StatusOr<FileDigest> FetchArtifact(const std::string& uri, const std::filesystem::path& to,
                                   uint64_t max_bytes, std::chrono::seconds timeout);

}  // namespace yoke::meta
