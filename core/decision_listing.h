// A listing of decision records, wherever they are read from: the base's decisions/ folder
// (base-layout/decision_log.h: /status and `yoke decisions`) or a decisions folder in meta
// (meta/records.h: `yoke decisions --meta`, `yoke meta log`, the meta thread's rejected
// versions). One type for every reader, so the listing, `show` and the formatting are the same
// for all. Pure values; the readers fill them.
// Thread-safety: plain values.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "proto/yoke/records.pb.h"

namespace yoke {

// One decision record.
struct DecisionEntry {
  std::string id;    // its file name without .txtpb (or .pb in meta)
  std::string path;  // where it was read from; in meta, the path inside the repository
  Decision decision;
  // Why the record does not parse, "path:line:column: message"; `decision` is then empty.
  std::string problem;
};

struct DecisionListing {
  // Newest first: by the UTC time each id starts with, then as the reader says (the base's
  // folder: by write time; meta: by id).
  std::vector<DecisionEntry> entries;
  size_t total = 0;  // records in the source, before any limit
  // Set when the source could not be read at all (a repository libgit2 cannot read); then
  // `entries` is empty.
  std::string error;
};

// The UTC time an id starts with ("20261122T030000Z"), which orders decisions.
std::string DecisionStamp(const std::string& id);

// Sorts newest first by stamp, then by id, and keeps the newest `limit` (all when 0).
void SortNewestFirst(std::vector<DecisionEntry>* entries, size_t limit = 0);

// The decision `id` names: its exact id (a file name or path to the record also works), or
// else the one decision whose id starts with it. The entry found may be one that does not
// parse (its `problem` says why).
// An empty result with `ambiguous` filled means several ids start with it.
struct DecisionMatch {
  const DecisionEntry* entry = nullptr;
  std::vector<std::string> ambiguous;
};
DecisionMatch FindDecision(const DecisionListing& listing, const std::string& id);

}  // namespace yoke
