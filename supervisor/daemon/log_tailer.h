// Follows the JSON log files of one instance folder: files that appear after start, rotation
// by rename (the old file is read to its end) and by truncation, partial last lines. Every
// complete line is classified (core/log_line.h) into a LogCounts.
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
  LogTailer(std::filesystem::path instance_dir, const std::string& glob, LogFormat format);
  ~LogTailer();
  LogTailer(const LogTailer&) = delete;
  LogTailer& operator=(const LogTailer&) = delete;

  // Reads what was written since the last call, at most `max_bytes`. Returns the bytes read.
  uint64_t Poll(LogCounts& counts, bool during_startup, uint64_t max_bytes = 64 << 20);

  // The largest line kept whole; longer lines are counted as not JSON.
  static constexpr size_t kMaxLine = 1 << 20;

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
};

}  // namespace yoke
