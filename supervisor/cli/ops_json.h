// What the read commands print with --json: one JSON document on stdout, for scripts and CI.
// Records keep their protobuf JSON form (proto field names, enums by name); lists are arrays in
// the order the text form prints them (newest first). Pure functions of values the commands
// have gathered. Thread-safety: free functions.
#pragma once

#include <string>
#include <vector>

#include "core/decision_listing.h"
#include "supervisor/cli/ops_format.h"

namespace yoke {

// {"id": ..., "path": ..., "decision": {...}} or, for a record that does not parse,
// {"id": ..., "path": ..., "error": "..."}.
std::string DecisionJson(const DecisionEntry& entry);
// {"source": ..., "total": N, "decisions": [DecisionJson...]}.
std::string DecisionListJson(const std::string& source, const DecisionListing& listing);
// {"archives": [{"version", "file", "size_bytes", "archived"}...]}.
std::string ArchiveListJson(const std::vector<ArchiveRow>& rows);

struct VersionInstanceRow {
  std::string folder;  // "0001-running"
  uint32_t port = 0;
  int32_t pid = 0;
  std::string state;  // InstanceState, or "no record"
  std::string error;
  std::string role;  // "running", "testing" or empty: what the role links point at
};
struct VersionRow {
  std::string version;
  std::string artifact;  // file name, empty: none
  std::vector<VersionInstanceRow> instances;
};
// {"base": ..., "versions": [...], "archives": [...]}.
std::string VersionsJson(const std::string& base, const std::vector<VersionRow>& versions,
                         const std::vector<ArchiveRow>& archives);

}  // namespace yoke
