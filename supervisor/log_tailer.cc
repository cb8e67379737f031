#include "supervisor/log_tailer.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace yoke {
namespace fs = std::filesystem;

namespace {
constexpr size_t kChunk = 1 << 20;
}

LogTailer::LogTailer(fs::path instance_dir, const std::string& glob, LogFormat format)
    : classifier_(std::move(format)) {
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
    size_t last_newline = data.rfind('\n');
    if (last_newline == std::string_view::npos) {
      file.partial.assign(data);
    } else {
      ProcessLines(data.substr(0, last_newline + 1), buffer_.size(), counts, during_startup);
      file.partial.assign(data.substr(last_newline + 1));
    }
    if (file.partial.size() > kMaxLine) {
      counts.Add({LogLevel::kNotJson, ""}, during_startup);
      file.partial.clear();
    }
  }
  return total;
}

uint64_t LogTailer::Poll(LogCounts& counts, bool during_startup, uint64_t max_bytes) {
  uint64_t total = 0;
  // Files renamed away are read to their end, then let go.
  for (auto it = rotated_.begin(); it != rotated_.end();) {
    total += Drain(*it, counts, during_startup, max_bytes);
    ::close(it->fd);
    it = rotated_.erase(it);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    if (::fnmatch(pattern_.c_str(), name.c_str(), 0) != 0) continue;
    struct stat st;
    if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    auto it = files_.find(entry.path());
    if (it != files_.end() && it->second.inode != st.st_ino) {
      // Rotated by rename: a new file under the old name. Finish the old one first.
      total += Drain(it->second, counts, during_startup, max_bytes);
      ::close(it->second.fd);
      files_.erase(it);
      it = files_.end();
    }
    if (it == files_.end()) {
      int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      it = files_.emplace(entry.path(), Tracked{fd, st.st_ino, 0, {}}).first;
    }
  }
  for (auto it = files_.begin(); it != files_.end();) {
    total += Drain(it->second, counts, during_startup, max_bytes > total ? max_bytes - total : 0);
    if (!fs::exists(it->first, ec)) {
      // Renamed or deleted: keep reading it next time, then drop it.
      rotated_.push_back(it->second);
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  return total;
}

}  // namespace yoke
