// Zip archives of version folders (libarchive). Symlinks are stored as symlinks.
// Thread-safety: free functions.
#pragma once

#include <filesystem>
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
};

StatusOr<std::vector<ArchiveEntry>> ListZip(const std::filesystem::path& zip_path);

}  // namespace yoke
