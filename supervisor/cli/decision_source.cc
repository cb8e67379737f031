#include "supervisor/cli/decision_source.h"

#include <cassert>

#include "base-layout/decision_log.h"
#include "meta/records.h"

namespace yoke {

DecisionListing FolderDecisionSource::List(size_t limit) const {
  return ReadDecisionFolder(*env_, dir_, limit);
}

MetaDecisionSource::MetaDecisionSource(std::unique_ptr<meta::GitStore> store, std::string dir)
    : store_(std::move(store)), dir_(std::move(dir)) {
  assert(store_);
}

std::string MetaDecisionSource::Describe() const {
  return store_->path() + " (branch " + store_->branch() + ") " + dir_;
}

DecisionListing MetaDecisionSource::List(size_t limit) const {
  auto listing = meta::ReadDecisions(*store_, dir_, limit);
  if (listing) return std::move(*listing);
  DecisionListing unreadable;
  unreadable.error = listing.error().message();
  return unreadable;
}

}  // namespace yoke
