// Reading the decisions a supervisor wrote to <base>/decisions/, one protobuf text file each,
// for the status page and GET /decisions/<id>. A decision's id is its file name without
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
#include "core/env.h"
#include "proto/yoke/records.pb.h"

namespace yoke {

struct DecisionSummary {
  std::string id;
  Decision record;
  std::string error;  // set when the file does not parse; `record` is then empty
};

struct DecisionList {
  size_t total = 0;                     // decision files in the folder
  std::vector<DecisionSummary> recent;  // the newest `limit`, newest first
};

// The decision files in `dir`, newest first: by the UTC time each name starts with, then by
// modification time (two decisions within one second), then by name. Temporary and hidden
// files, and anything that is not a regular file, are left out.
std::vector<std::filesystem::path> ListDecisionFiles(Env& env, const std::filesystem::path& dir);

DecisionList RecentDecisions(Env& env, const std::filesystem::path& dir, size_t limit);

// The decision file's text, or nothing when `id` is not a decision id or no such file exists.
std::optional<std::string> DecisionText(Env& env, const std::filesystem::path& dir,
                                        std::string_view id);

}  // namespace yoke
