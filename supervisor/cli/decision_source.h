// Where the operator commands read decision records from. One interface, so that where the
// records live is chosen in one place (MakeDecisionSource in cli_ops.h):
//   - FolderDecisionSource: a folder of `<time>-<from>-to-<to>.txtpb` files, such as
//     <base>/decisions/ (what `yoke decisions` and `yoke status` read);
//   - MetaDecisionSource: one host's decisions folder in meta, the git repository of records
//     (`yoke decisions --meta`), read at the tip of its branch.
// The listing, `show` and the formatting are the same for both.
// Thread-safety: a source is used by one thread; List() reads the disk (or the repository) each
// time.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/env.h"
#include "meta/git_store.h"
#include "proto/yoke/records.pb.h"

namespace yoke {

struct DecisionEntry {
  std::string id;              // the record's file name without .txtpb (or .pb in meta)
  std::filesystem::path path;  // where it was read from; in meta, the path inside the repository
  Decision decision;
};

struct DecisionListing {
  std::vector<DecisionEntry> decisions;  // newest first
  // Records that did not parse, as "path:line:column: message"; they are skipped.
  std::vector<std::string> problems;
  // Set when the source could not be read at all (a repository libgit2 cannot read); then
  // `decisions` is empty.
  std::string error;
};

class DecisionSource {
 public:
  virtual ~DecisionSource() = default;
  // Where the records come from, for messages: "/srv/hello/decisions".
  virtual std::string Describe() const = 0;
  // The newest `limit` records that parse (all of them when `limit` is 0), newest first, and
  // a problem for every record looked at that does not parse.
  virtual DecisionListing List(size_t limit = 0) const = 0;
};

// A folder of decision records. Newest first means by the UTC time that starts each file name,
// then by modification time (two decisions within one second), then by name.
class FolderDecisionSource : public DecisionSource {
 public:
  // REQUIRES: `env` outlives the source.
  FolderDecisionSource(Env* env, std::filesystem::path dir) : env_(env), dir_(std::move(dir)) {}
  std::string Describe() const override { return dir_.string(); }
  DecisionListing List(size_t limit = 0) const override;

 private:
  Env* env_;
  std::filesystem::path dir_;
};

// One host's decisions in meta: the records under `dir` (meta::DecisionsDir) at the tip of the
// store's branch. Newest first means by the UTC time that starts each file name, then by name
// (meta keeps no write times; a ".2" record of the same second sorts first, as it should).
// Every record under `dir` is parsed, so every bad one is reported, whatever the limit.
class MetaDecisionSource : public DecisionSource {
 public:
  // REQUIRES: `store` is not null.
  MetaDecisionSource(std::unique_ptr<meta::GitStore> store, std::string dir);
  // "/srv/hello/meta (branch main) hello/prod/hosts/web-3/hello/decisions"
  std::string Describe() const override;
  DecisionListing List(size_t limit = 0) const override;

 private:
  std::unique_ptr<meta::GitStore> store_;
  std::string dir_;
};

// The decision `id` names: its exact id (a file name or path to the record also works), or
// else the one decision whose id starts with it.
// An empty result with `ambiguous` filled means several ids start with it.
struct DecisionMatch {
  const DecisionEntry* entry = nullptr;
  std::vector<std::string> ambiguous;
};
DecisionMatch FindDecision(const DecisionListing& listing, const std::string& id);

}  // namespace yoke
