#include "base-layout/decision_log.h"

#include <sys/stat.h>

#include <algorithm>
#include <system_error>
#include <tuple>

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

std::vector<fs::path> ListDecisionFiles(const fs::path& dir) {
  struct File {
    std::string stamp;     // the UTC time the name starts with
    int64_t mtime_ns = 0;  // read only to order decisions of the same second
    fs::path path;
  };
  std::vector<File> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    // Skips WriteFileAtomic's `.tmp` files and anything an operator hid.
    if (!name.ends_with(kSuffix) || !IsDecisionId(name.substr(0, name.size() - kSuffix.size())) ||
        !it->is_regular_file(ec)) {
      continue;
    }
    files.push_back({name.substr(0, name.find('-')), 0, it->path()});
  }
  // The status page asks every second: stat only files that share their second with another.
  std::sort(files.begin(), files.end(),
            [](const File& a, const File& b) { return a.stamp > b.stamp; });
  for (auto group = files.begin(); group != files.end();) {
    auto next =
        std::find_if(group, files.end(), [&](const File& f) { return f.stamp != group->stamp; });
    if (next - group > 1) {
      for (auto f = group; f != next; ++f) {
        struct stat st;
        if (::stat(f->path.c_str(), &st) == 0) {
          f->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        }
      }
      std::sort(group, next, [](const File& a, const File& b) {
        return std::tie(a.mtime_ns, a.path) > std::tie(b.mtime_ns, b.path);
      });
    }
    group = next;
  }
  std::vector<fs::path> paths;
  for (File& file : files) paths.push_back(std::move(file.path));
  return paths;
}

DecisionList RecentDecisions(const fs::path& dir, size_t limit) {
  DecisionList list;
  std::vector<fs::path> files = ListDecisionFiles(dir);
  list.total = files.size();
  if (files.size() > limit) files.resize(limit);
  for (const fs::path& file : files) {
    DecisionSummary summary;
    summary.id = file.stem().string();
    if (auto st = ReadTextRecord(file, &summary.record); !st) {
      summary.record.Clear();
      summary.error = st.error().message();
    }
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
