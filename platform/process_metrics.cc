#include "platform/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace yoke {
namespace {

// The system's boot time (btime in /proc/stat), the origin of a process's start time.
StatusOr<double> BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("btime ")) return std::stod(line.substr(6));
  }
  return Fail("/proc/stat has no btime line");
}

}  // namespace

StatusOr<ProcessMetrics> ReadProcessMetrics() {
  std::ifstream in("/proc/self/stat");
  std::string stat;
  if (!std::getline(in, stat)) return Fail("cannot read /proc/self/stat");
  // The command name (field 2) is in parentheses and may hold spaces: fields after its last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return Fail("/proc/self/stat: no ')' after the name");
  std::istringstream rest(stat.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  for (std::string f; rest >> f;) fields.push_back(f);
  if (fields.size() < 22) return Fail("/proc/self/stat: too few fields");
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const long page = ::sysconf(_SC_PAGESIZE);
  ProcessMetrics m;
  try {
    // utime (14), stime (15), starttime (22), vsize (23), rss (24): index = field - 3.
    m.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    auto boot = BootTimeSeconds();
    if (!boot) return std::unexpected(boot.error());
    m.start_time_seconds = *boot + std::stod(fields[19]) / ticks;
    m.virtual_bytes = std::stoull(fields[20]);
    m.resident_bytes = std::stoull(fields[21]) * static_cast<uint64_t>(page);
  } catch (const std::exception& e) {
    return Fail(std::string("/proc/self/stat: a field is not a number: ") + e.what());
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++m.open_fds;
    }
    ::closedir(dir);
    if (m.open_fds > 0) --m.open_fds;  // the one opendir itself held
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) m.max_fds = limit.rlim_cur;
  return m;
}

}  // namespace yoke
