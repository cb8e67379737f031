// Where the operator commands read decision records from. One interface, so that where the
// records live is chosen in one place (MakeDecisionSource in cli_ops.h):
//   - FolderDecisionSource: a folder of `<time>-<from>-to-<to>.txtpb` files, such as
//     <base>/decisions/ (what `yoke decisions` and `yoke status` read);
//   - MetaDecisionSource: one host's decisions folder in meta, the git repository of records
//     (`yoke decisions --meta`), read at the tip of its branch.
// Both give a DecisionListing (core/decision_listing.h), so the listing, `show` and the
// formatting are the same for both.
// Thread-safety: a source is used by one thread; List() reads the disk (or the repository) each
// time.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "core/decision_listing.h"
#include "core/env.h"
#include "meta/git_store.h"

namespace yoke {

class DecisionSource {
 public:
  virtual ~DecisionSource() = default;
  // Where the records come from, for messages: "/srv/hello/decisions".
  virtual std::string Describe() const = 0;
  // The newest `limit` records (all of them when `limit` is 0), newest first; a record that
  // does not parse is listed with its problem.
  virtual DecisionListing List(size_t limit = 0) const = 0;
};

// A folder of decision records (base-layout's ReadDecisionFolder). Newest first means by the
// UTC time that starts each file name, then by modification time (two decisions within one
// second), then by name.
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

// One host's decisions in meta (meta::ReadDecisions): the records under `dir`
// (meta::DecisionsDir) at the tip of the store's branch.
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

}  // namespace yoke
