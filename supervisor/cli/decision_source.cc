#include "supervisor/cli/decision_source.h"

#include <algorithm>
#include <cassert>
#include <tuple>

#include "base-layout/decision_log.h"
#include "base-layout/text_record.h"
#include "meta/records.h"

namespace yoke {

namespace fs = std::filesystem;

DecisionListing FolderDecisionSource::List(size_t limit) const {
  DecisionListing listing;
  for (const fs::path& file : ListDecisionFiles(*env_, dir_)) {
    if (limit > 0 && listing.decisions.size() >= limit) break;
    DecisionEntry entry;
    entry.path = file;
    entry.id = file.stem().string();
    if (auto st = ReadTextRecord(*env_, file, &entry.decision); !st) {
      listing.problems.push_back(st.error().message());
      continue;
    }
    listing.decisions.push_back(std::move(entry));
  }
  return listing;
}

MetaDecisionSource::MetaDecisionSource(std::unique_ptr<meta::GitStore> store, std::string dir)
    : store_(std::move(store)), dir_(std::move(dir)) {
  assert(store_);
}

std::string MetaDecisionSource::Describe() const {
  return store_->path() + " (branch " + store_->branch() + ") " + dir_;
}

DecisionListing MetaDecisionSource::List(size_t limit) const {
  DecisionListing listing;
  auto records = meta::ReadDecisions(*store_, dir_, &listing.problems);
  if (!records) {
    listing.error = records.error().message();
    return listing;
  }
  std::vector<DecisionEntry> entries;
  entries.reserve(records->size());
  for (meta::DecisionEntry& record : *records) {
    DecisionEntry entry;
    entry.path = record.path;
    entry.id = entry.path.stem().string();  // drops .txtpb, or .pb for a binary record
    entry.decision = std::move(record.decision);
    entries.push_back(std::move(entry));
  }
  auto key = [](const DecisionEntry& e) {
    return std::tuple(std::string_view(e.id).substr(0, e.id.find('-')), std::string_view(e.id));
  };
  std::sort(entries.begin(), entries.end(),
            [&](const DecisionEntry& a, const DecisionEntry& b) { return key(a) > key(b); });
  if (limit > 0 && entries.size() > limit) entries.resize(limit);
  listing.decisions = std::move(entries);
  return listing;
}

DecisionMatch FindDecision(const DecisionListing& listing, const std::string& id) {
  DecisionMatch match;
  // A path to the record works too (a shell completes one).
  std::string wanted = fs::path(id).filename().string();
  if (wanted.ends_with(".txtpb")) wanted.resize(wanted.size() - 6);
  if (wanted.empty()) return match;
  std::vector<const DecisionEntry*> prefixed;
  for (const DecisionEntry& entry : listing.decisions) {
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
