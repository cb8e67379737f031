#include "core/decision_listing.h"

#include <algorithm>
#include <tuple>

namespace yoke {

std::string DecisionStamp(const std::string& id) { return id.substr(0, id.find('-')); }

void SortNewestFirst(std::vector<DecisionEntry>* entries, size_t limit) {
  auto key = [](const DecisionEntry& e) { return std::tuple(DecisionStamp(e.id), e.id); };
  std::stable_sort(entries->begin(), entries->end(),
                   [&](const DecisionEntry& a, const DecisionEntry& b) { return key(a) > key(b); });
  if (limit > 0 && entries->size() > limit) entries->resize(limit);
}

DecisionMatch FindDecision(const DecisionListing& listing, const std::string& id) {
  DecisionMatch match;
  // A path to the record works too (a shell completes one).
  std::string wanted = id.substr(id.find_last_of('/') + 1);
  for (std::string_view suffix : {".txtpb", ".pb"}) {
    if (wanted.ends_with(suffix)) wanted.resize(wanted.size() - suffix.size());
  }
  if (wanted.empty()) return match;
  std::vector<const DecisionEntry*> prefixed;
  for (const DecisionEntry& entry : listing.entries) {
    if (entry.id == wanted) {
      match.entry = &entry;
      return match;
    }
    if (entry.id.starts_with(wanted)) prefixed.push_back(&entry);
  }
  if (prefixed.size() == 1) {
    match.entry = prefixed.front();
  } else {
    for (const DecisionEntry* entry : prefixed) match.ambiguous.push_back(entry->id);
  }
  return match;
}

}  // namespace yoke
