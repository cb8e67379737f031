// Reading and checking meta's records at a branch tip, and the commits the release side makes
// (`yoke meta release add`, `yoke meta channel set`). Records are text format; ".pb" files are
// read as binary. A record that does not parse is reported as "<path>:<line>:<column>: ...".
// Thread-safety: as GitStore's.
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/decision_listing.h"
#include "core/status.h"
#include "meta/git_store.h"
#include "proto/yoke/config.pb.h"
#include "proto/yoke/records.pb.h"

namespace yoke::meta {

// Reads the record at `path` (or its ".pb" twin). Returns false when neither exists.
StatusOr<bool> ReadRecord(const GitStore& store, const std::string& path,
                          google::protobuf::Message* record);

template <typename T>
StatusOr<std::optional<T>> Read(const GitStore& store, const std::string& path) {
  T record;
  YOKE_ASSIGN_OR_RETURN(bool found, ReadRecord(store, path, &record));
  if (!found) return std::optional<T>();
  return std::optional<T>(std::move(record));
}

// The decisions under `dir` (a host's decisions folder, or "" for all of meta) at the branch
// tip: the newest `limit` (all when 0), newest first by the time that starts each id, then by
// id (meta keeps no write times; a ".2" record of the same second sorts first, as it should).
// A record that does not parse is listed with its problem. Fails when the repository cannot
// be read. With `want`, only the paths it accepts are read and listed.
StatusOr<DecisionListing> ReadDecisions(
    const GitStore& store, const std::string& dir, size_t limit = 0,
    const std::function<bool(const std::string& path)>& want = {});

// Parses every record in meta and checks what links them (a file named after its version, a
// channel naming a release that exists, an artifact with a sha256 and a size). One line per
// problem, each starting with the record's path.
StatusOr<std::vector<std::string>> Validate(const GitStore& store);

// A full git commit id: 40 hex digits (a release's source githash).
bool IsGithash(const std::string& s);

// The one-line message of a decision's commit: service, host, versions and verdict.
std::string DecisionCommitMessage(const Decision& decision);

// Commits a release record. Fails when the version already has a different release (releases
// are immutable) or a name is unsafe. Returns the commit id.
StatusOr<std::string> AddRelease(GitStore& store, const std::string& project,
                                 const Release& release, const Author& author);
// Points a channel at a release that exists, keeping its flags unless `flags` is given.
StatusOr<std::string> SetChannel(GitStore& store, const std::string& project,
                                 const std::string& env, const std::string& channel,
                                 const std::string& version,
                                 const std::optional<std::map<std::string, std::string>>& flags,
                                 const Author& author);

}  // namespace yoke::meta
