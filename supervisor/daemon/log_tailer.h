// Follows the JSON log files of one instance folder: files that appear after start, rotation
// by rename (the old file is read to its end) and by truncation, partial last lines. Every
// complete line is classified (core/log_line.h) into a LogCounts.
// What a candidate puts in its folder cannot hurt yoke: only regular files are read (a FIFO,
// device, socket or symlink matching the glob is skipped; files are opened
// O_NONBLOCK|O_NOFOLLOW and checked with fstat, so one swapped in after the listing is
// skipped too), and at most `max_files` are open at once (followed and renamed-away files
// together); more matching files wait, unread, until a place frees up.
// Thread-safety: none; the supervisor loop owns it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/log_counts.h"
#include "core/log_line.h"

namespace yoke {

class LogTailer {
 public:
  // `glob` is relative to `instance_dir`; a pattern is allowed in its last part only
  // ("logs/json/*.log").
  LogTailer(std::filesystem::path instance_dir, const std::string& glob, LogFormat format,
            size_t max_files = 16);
  ~LogTailer();
  LogTailer(const LogTailer&) = delete;
  LogTailer& operator=(const LogTailer&) = delete;

  // Reads what was written since the last call, at most `max_bytes`. Returns the bytes read.
  uint64_t Poll(LogCounts& counts, bool during_startup, uint64_t max_bytes = 64 << 20);

  // The largest line kept whole; longer lines are counted as not JSON.
  static constexpr size_t kMaxLine = 1 << 20;

  // Files open now (at most max_files), and matching files left unread at the last Poll
  // because the cap was reached.
  size_t open_files() const { return files_.size() + rotated_.size(); }
  size_t files_over_cap() const { return over_cap_; }

 private:
  struct Tracked {
    int fd = -1;
    ino_t inode = 0;
    uint64_t offset = 0;
    std::string partial;    // an incomplete last line, waiting for its newline
    bool skipping = false;  // inside a line over kMaxLine: drop bytes up to its newline
  };
  uint64_t Drain(Tracked& file, LogCounts& counts, bool during_startup, uint64_t budget);
  void ProcessLines(std::string_view data, size_t capacity, LogCounts& counts, bool during_startup);

  std::filesystem::path dir_;
  std::string pattern_;
  LogClassifier classifier_;
  std::map<std::filesystem::path, Tracked> files_;
  std::vector<Tracked> rotated_;  // renamed out of the glob, still being read to their end
  std::vector<char> buffer_;
  size_t max_files_;
  size_t over_cap_ = 0;
  bool warned_over_cap_ = false;
};

}  // namespace yoke
