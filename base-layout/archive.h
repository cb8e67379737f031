// Zip archives of version folders (libarchive): write one, list it, read files out of it, and
// unpack it safely into a folder. Symlinks are stored and restored as symlinks.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace yoke {

// Writes `folder` and everything below it into a new zip at `zip_path`, each entry named
// `<top_name>/<relative path>`. The zip appears atomically (written to a temp name first).
Status ZipFolder(const std::filesystem::path& folder, const std::string& top_name,
                 const std::filesystem::path& zip_path);

struct ArchiveEntry {
  std::string path;
  uint64_t size = 0;
  bool is_symlink = false;
  bool is_directory = false;
  std::string link_target;  // for a symlink
};

StatusOr<std::vector<ArchiveEntry>> ListZip(const std::filesystem::path& zip_path);

// The contents of the regular files in the zip whose entry path `wanted` accepts, keyed by entry
// path. A file larger than `max_bytes` is an error: this is for small records, not for logs.
StatusOr<std::map<std::string, std::string>> ReadZipFiles(
    const std::filesystem::path& zip_path, const std::function<bool(const std::string&)>& wanted,
    uint64_t max_bytes = 1 << 20);

struct UnzipOptions {
  // Write into a folder that already holds something (`yoke archive extract --force`); files
  // of the same name are replaced.
  bool into_non_empty = false;
};

// Unpacks every entry of the zip under `dir`, created when missing, keeping the entries' paths
// (so a version archive lands in `dir/<version>/`). Before anything is written, refuses:
//   - an entry whose path (or hard-link target) is absolute or has a `..` component;
//   - a `dir` that is not empty, unless `options.into_non_empty`.
// Nothing is written through a symlink, so a link the archive makes cannot lead a later entry
// out of `dir`. Permissions are kept, minus the umask and set-id bits; owners are not.
// Returns the entries written, in archive order.
StatusOr<std::vector<ArchiveEntry>> UnzipTo(const std::filesystem::path& zip_path,
                                            const std::filesystem::path& dir,
                                            const UnzipOptions& options = {});

}  // namespace yoke
