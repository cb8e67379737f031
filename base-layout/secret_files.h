// Files in an instance folder that hold a secret's plaintext (a decrypted secret, or a template
// that names one): written mode 0600 from the first byte, listed in the instance's
// `.yoke-secret-files`, and shredded (overwritten with zeros, synced, removed) before the
// version folder is zipped, so an archive never holds plaintext. docs/config.md, "Secrets".
//
// Shredding overwrites the file's blocks in place, so it goes around the Env (which only
// replaces whole files); on a copy-on-write or flash file system the old blocks may survive
// on the device; what the archive never holds is the point.
// Thread-safety: free functions; one writer per instance folder.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status.h"

namespace yoke {

inline constexpr const char* kSecretFileList = ".yoke-secret-files";

// Writes `content` to `instance_dir`/`name` (mode 0600) and lists it for shredding.
Status WriteSecretFile(Env& env, const std::filesystem::path& instance_dir, const std::string& name,
                       std::string_view content);

// Shreds every listed secret file of every instance under `version_dir`/instances, and the
// lists. Returns how many files were shredded; problems are returned as the first error but
// every file is still tried (and removed even when the overwrite failed).
StatusOr<int> ShredSecretFiles(const std::filesystem::path& version_dir);

}  // namespace yoke
