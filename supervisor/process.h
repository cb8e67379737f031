// Child processes: the launcher interface the supervisor starts instances through, and the
// real one on Boost.Process v2. A child runs in its own process group (so a stop reaches every
// process it forked) and gets SIGTERM when the supervisor dies (parent-death signal).
// Thread-safety: a launcher and its children belong to the supervisor loop's thread; the
// parent-death signal fires when the forking thread exits, so fork from a long-lived thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace yoke {

struct LaunchSpec {
  std::vector<std::string> argv;                 // argv[0] is looked up in PATH when it has no '/'
  std::map<std::string, std::string> extra_env;  // added to yoke's own environment
  std::filesystem::path working_dir;
  std::filesystem::path stdout_path;  // appended to
  std::filesystem::path stderr_path;
};

struct ExitInfo {
  int exit_code = -1;            // when it exited
  int signal = 0;                // when a signal ended it
  std::string Describe() const;  // "exit code 3", "signal 9 (Killed)"
};

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  virtual pid_t pid() const = 0;
  // Reaps the child if it has ended. Returns how it ended, or nullopt while it runs.
  virtual std::optional<ExitInfo> Poll() = 0;
  // Sends `sig` to the child's whole process group.
  virtual void Signal(int sig) = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Fails with a readable reason when the program cannot be found or executed.
  virtual StatusOr<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) = 0;
};

// The launcher on Boost.Process v2. Construct once, in main.
std::unique_ptr<ProcessLauncher> MakeProcessLauncher();

// The start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22), or nullopt
// when no such process exists. A pid plus its start time names one process for good.
std::optional<uint64_t> ProcessStartTicks(pid_t pid);

// Stops what is left of a process group whose leader was `pid` with start time `start_ticks`
// (from an earlier supervisor's journal): SIGTERM, then SIGKILL after `grace`. Does nothing
// when the pid now names another process. Returns true when something was signalled.
bool StopStaleProcessGroup(pid_t pid, uint64_t start_ticks, std::chrono::milliseconds grace);

}  // namespace yoke
