// Reading the decisions a supervisor wrote to <base>/decisions/, one protobuf text file each,
// for /status, GET /decisions/<id>, `yoke decisions` and the meta thread. A decision's id is its
// file name without
// `.txtpb`; names begin with the UTC time, so name order is time order.
// Thread-safety: free functions that only read files; safe from any thread while the loop
// writes new decisions (each appears by an atomic rename).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base-layout/paths.h"
#include "core/decision_listing.h"
#include "core/env.h"

namespace yoke {

// The decision files in `dir`, newest first: by the UTC time each name starts with, then by
// modification time (two decisions within one second), then by name. Temporary and hidden
// files, and anything that is not a regular file, are left out.
std::vector<std::filesystem::path> ListDecisionFiles(Env& env, const std::filesystem::path& dir);

// The newest `limit` decisions in `dir` (all when 0), in ListDecisionFiles' order, each parsed
// or with its problem; `total` counts every decision file.
DecisionListing ReadDecisionFolder(Env& env, const std::filesystem::path& dir, size_t limit = 0);

// The decision file's text, or nothing when `id` is not a decision id or no such file exists.
std::optional<std::string> DecisionText(Env& env, const std::filesystem::path& dir,
                                        std::string_view id);

}  // namespace yoke
