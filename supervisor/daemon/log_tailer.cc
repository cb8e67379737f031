#include "supervisor/daemon/log_tailer.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace yoke {
namespace fs = std::filesystem;

namespace {
constexpr size_t kChunk = 1 << 20;
}

LogTailer::LogTailer(fs::path instance_dir, const std::string& glob, LogFormat format,
                     size_t max_files)
    : classifier_(std::move(format)), max_files_(max_files) {
  fs::path g(glob);
  dir_ = instance_dir / g.parent_path();
  pattern_ = g.filename().string();
  buffer_.resize(kMaxLine + kChunk + simdjson::SIMDJSON_PADDING);
}

LogTailer::~LogTailer() {
  for (auto& [path, file] : files_) ::close(file.fd);
  for (auto& file : rotated_) ::close(file.fd);
}

void LogTailer::ProcessLines(std::string_view data, size_t capacity, LogCounts& counts,
                             bool during_startup) {
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string_view::npos) break;
    size_t length = end - start;
    if (length > 0 && data[end - 1] == '\r') --length;
    if (length > 0) {
      counts.Add(classifier_.Classify(data.data() + start, length, capacity - start),
                 during_startup);
    }
    start = end + 1;
  }
}

uint64_t LogTailer::Drain(Tracked& file, LogCounts& counts, bool during_startup, uint64_t budget) {
  struct stat st;
  if (::fstat(file.fd, &st) == 0 && static_cast<uint64_t>(st.st_size) < file.offset) {
    // Truncated in place (copytruncate rotation): start again from the top.
    file.offset = 0;
    file.partial.clear();
  }
  uint64_t total = 0;
  while (total < budget) {
    // The partial line goes first, then fresh bytes right after it.
    size_t keep = file.partial.size();
    std::memcpy(buffer_.data(), file.partial.data(), keep);
    ssize_t n = ::pread(file.fd, buffer_.data() + keep, kChunk, static_cast<off_t>(file.offset));
    if (n <= 0) break;
    file.offset += static_cast<uint64_t>(n);
    total += static_cast<uint64_t>(n);
    std::string_view data(buffer_.data(), keep + static_cast<size_t>(n));
    if (file.skipping) {
      // The rest of an over-long line, already counted: drop it up to its newline.
      size_t newline = data.find('\n');
      if (newline == std::string_view::npos) continue;
      file.skipping = false;
      std::memmove(buffer_.data(), buffer_.data() + newline + 1, data.size() - newline - 1);
      data = std::string_view(buffer_.data(), data.size() - newline - 1);
    }
    size_t last_newline = data.rfind('\n');
    if (last_newline == std::string_view::npos) {
      file.partial.assign(data);
    } else {
      ProcessLines(data.substr(0, last_newline + 1), buffer_.size(), counts, during_startup);
      file.partial.assign(data.substr(last_newline + 1));
    }
    if (file.partial.size() > kMaxLine) {
      counts.Add(ClassifiedLine{}, during_startup);  // kNotJson
      file.partial.clear();
      file.skipping = true;
    }
  }
  return total;
}

uint64_t LogTailer::Poll(LogCounts& counts, bool during_startup, uint64_t max_bytes) {
  uint64_t total = 0;
  auto budget = [&] { return max_bytes > total ? max_bytes - total : 0; };
  // Files renamed out of the glob are read to their end, then let go.
  for (auto it = rotated_.begin(); it != rotated_.end();) {
    uint64_t read = Drain(*it, counts, during_startup, budget());
    total += read;
    if (read == 0) {
      ::close(it->fd);
      it = rotated_.erase(it);
    } else {
      ++it;
    }
  }
  // What the glob matches now, by inode: a file renamed to another matching name (app.log to
  // app-1.log) keeps its place in the file rather than being read again from the top.
  std::map<ino_t, fs::path> listed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (::fnmatch(pattern_.c_str(), name.c_str(), 0) != 0) continue;
    struct stat st;
    // lstat: a symlink is skipped, not followed (to /dev/zero, a FIFO, another instance).
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    listed[st.st_ino] = entry.path();
  }
  std::map<fs::path, Tracked> kept;
  for (auto& [path, file] : files_) {
    auto found = listed.find(file.inode);
    if (found != listed.end()) {
      kept[found->second] = file;  // same file, perhaps under a new name
      listed.erase(found);
    } else {
      rotated_.push_back(file);  // renamed away or deleted: finish it, then close it
    }
  }
  files_ = std::move(kept);
  over_cap_ = 0;
  // New files are taken in name order, not inode order: the file system may hand out a freed
  // (lower) inode to a newer file.
  std::map<fs::path, ino_t> waiting;
  for (const auto& [inode, path] : listed) waiting.emplace(path, inode);
  for (const auto& [path, inode] : waiting) {
    if (files_.contains(path)) continue;
    if (open_files() >= max_files_) {
      ++over_cap_;
      continue;
    }
    // O_NONBLOCK: a FIFO swapped in after the listing cannot block the open; O_NOFOLLOW: nor
    // can a symlink take its place. fstat decides.
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_ino != inode) {
      ::close(fd);
      continue;
    }
    files_.emplace(path, Tracked{fd, inode, 0, {}, false});
  }
  if (over_cap_ > 0 && !warned_over_cap_) {
    warned_over_cap_ = true;
    spdlog::warn(
        "{}: {} files match the JSON log glob beyond the {} yoke follows per instance; "
        "those are not read (max_json_log_files)",
        dir_.string(), over_cap_, max_files_);
  }
  for (auto& file : rotated_) total += Drain(file, counts, during_startup, budget());
  for (auto& [path, file] : files_) total += Drain(file, counts, during_startup, budget());
  return total;
}

}  // namespace yoke
