#include "supervisor/decision_log.h"

#include <algorithm>
#include <system_error>

#include "base-layout/text_record.h"

namespace yoke {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSuffix = ".txtpb";

}  // namespace

bool IsDecisionId(std::string_view id) {
  if (id.empty() || id.size() > 255 || id.front() == '.') return false;
  if (id.find("..") != std::string_view::npos) return false;
  return std::none_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return c == '/' || c == '\\' || u < 0x20 || u == 0x7f;
  });
}

DecisionList RecentDecisions(const fs::path& dir, size_t limit) {
  DecisionList list;
  std::vector<std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    // Skips WriteFileAtomic's `.tmp` files and anything an operator hid.
    if (!name.ends_with(kSuffix) || name.front() == '.') continue;
    std::string id = name.substr(0, name.size() - kSuffix.size());
    if (IsDecisionId(id)) ids.push_back(std::move(id));
  }
  list.total = ids.size();
  size_t keep = std::min(limit, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep), ids.end(),
                    std::greater<>());
  ids.resize(keep);
  for (std::string& id : ids) {
    DecisionSummary summary;
    if (auto st = ReadTextRecord(dir / (id + std::string(kSuffix)), &summary.record); !st) {
      summary.record.Clear();
      summary.error = st.error().message();
    }
    summary.id = std::move(id);
    list.recent.push_back(std::move(summary));
  }
  return list;
}

std::optional<std::string> DecisionText(const fs::path& dir, std::string_view id) {
  if (!IsDecisionId(id)) return std::nullopt;
  fs::path path = dir / (std::string(id) + std::string(kSuffix));
  std::error_code ec;
  // Only files the supervisor wrote: a link planted in decisions/ is not followed.
  if (!fs::is_regular_file(fs::symlink_status(path, ec))) return std::nullopt;
  auto text = ReadFile(path);
  if (!text) return std::nullopt;
  return *text;
}

}  // namespace yoke
