#include "base-layout/decision_log.h"

#include <algorithm>
#include <system_error>
#include <tuple>

#include "base-layout/text_record.h"

namespace yoke {
namespace fs = std::filesystem;
using base_paths::IsDecisionId;

std::vector<fs::path> ListDecisionFiles(Env& env, const fs::path& dir) {
  struct File {
    std::string stamp;  // the UTC time the name starts with
    int64_t mtime_ns;   // orders decisions of the same second
    fs::path path;
  };
  std::vector<File> files;
  auto names = env.ListDir(dir);
  if (!names) return {};
  for (const std::string& name : *names) {
    // Skips WriteFileAtomic's `.tmp` files and anything an operator hid.
    if (!base_paths::DecisionIdOf(name)) continue;
    // Only regular files: a link or folder planted in decisions/ is not a decision.
    auto info = env.Stat(dir / name);
    if (!info || !info->is_regular()) continue;
    files.push_back({name.substr(0, name.find('-')), info->mtime_ns, dir / name});
  }
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) {
    return std::tie(a.stamp, a.mtime_ns, a.path) > std::tie(b.stamp, b.mtime_ns, b.path);
  });
  std::vector<fs::path> paths;
  for (File& file : files) paths.push_back(std::move(file.path));
  return paths;
}

DecisionListing ReadDecisionFolder(Env& env, const fs::path& dir, size_t limit) {
  DecisionListing listing;
  std::vector<fs::path> files = ListDecisionFiles(env, dir);
  listing.total = files.size();
  if (limit > 0 && files.size() > limit) files.resize(limit);
  for (const fs::path& file : files) {
    DecisionEntry entry;
    entry.id = file.stem().string();
    entry.path = file.string();
    if (auto st = ReadTextRecord(env, file, &entry.decision); !st) {
      entry.decision.Clear();
      entry.problem = st.error().message();
    }
    listing.entries.push_back(std::move(entry));
  }
  return listing;
}

std::optional<std::string> DecisionText(Env& env, const fs::path& dir, std::string_view id) {
  if (!IsDecisionId(id)) return std::nullopt;
  fs::path path = dir / (std::string(id) + std::string(base_paths::kDecisionSuffix));
  // Only files the supervisor wrote: a link planted in decisions/ is not followed.
  auto info = env.Stat(path);
  if (!info || !info->is_regular()) return std::nullopt;
  auto text = env.ReadFile(path);
  if (!text) return std::nullopt;
  return *text;
}

}  // namespace yoke
