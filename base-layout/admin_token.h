// The admin API's token: the file state-changing admin calls must quote (config
// `admin_token_file`, default <base>/state/admin.token).
// Thread-safety: free functions; call at start, before the admin API serves.
#pragma once

#include <filesystem>
#include <string>

#include "core/env.h"
#include "core/status.h"

namespace yoke {

// Reads the token (trailing white space dropped), or makes one from `random_bytes` (as hex)
// when the file is missing or empty (an older yoke's crash between creating and filling it):
// written whole with mode 0600 from its first byte (Env::WriteFileAtomic, FileMode::kPrivate),
// so a crash at any point leaves no file or a good one, never one that stops the next start.
StatusOr<std::string> EnsureAdminToken(Env& env, const std::filesystem::path& path,
                                       const std::string& random_bytes);

}  // namespace yoke
