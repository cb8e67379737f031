// Where the operator commands read decision records from. One interface, so that where the
// records live is chosen in one place:
//   - FolderDecisionSource: a folder of `<time>-<from>-to-<to>.txtpb` files, such as
//     <base>/decisions/ (what `yoke decisions` and `yoke status` read today);
//   - meta (the git repository of records) is the next source: `yoke decisions --meta` will
//     construct its own DecisionSource over the host's decisions in meta, and the listing,
//     `show` and the formatting stay as they are.
// Thread-safety: a source is used by one thread; List() reads the disk each time.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "proto/yoke/records.pb.h"

namespace yoke {

struct DecisionEntry {
  std::string id;              // the record's file name without .txtpb
  std::filesystem::path path;  // where it was read from
  Decision decision;
};

struct DecisionListing {
  std::vector<DecisionEntry> decisions;  // newest first
  // Records that did not parse, as "path:line:column: message"; they are skipped.
  std::vector<std::string> problems;
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
  explicit FolderDecisionSource(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::string Describe() const override { return dir_.string(); }
  DecisionListing List(size_t limit = 0) const override;

 private:
  std::filesystem::path dir_;
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
