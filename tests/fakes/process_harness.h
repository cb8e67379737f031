// Helpers for integration tests that run real processes on 127.0.0.1: start a program and
// stop it by its pid, wait for a condition with a deadline, find a free port, make a plain
// HTTP request. Nothing here sleeps in place of a condition.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform/process.h"

namespace yoke::testing {

// A child process started by a test, through the real launcher (posix_spawn and the exec
// helper: no code runs in a forked copy of the multi-threaded test process), in the test's
// process group, with stdin from /dev/null and stdout and stderr appended to one file. The
// destructor stops it by pid (SIGTERM, then SIGKILL) and reaps it, and the child gets SIGKILL if
// the thread that started it dies, so a failing test leaves nothing behind. A program that
// cannot be started is reported on stderr; pid() is then -1 and Wait returns nullopt.
class Subprocess {
 public:
  Subprocess(std::vector<std::string> argv, const std::filesystem::path& output_file);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return child_ ? child_->pid() : -1; }
  void Signal(int sig);
  // Waits up to `timeout` for the child to end; returns its raw wait status.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<ChildProcess> child_;
};

// Calls `condition` every 20 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A port nothing listens on now, below the kernel's ephemeral range, and reserved for this
// process against the other test processes of the machine (a lock file held to its end).
uint16_t FreePort();
// The first of `count` consecutive such ports, all reserved (a port_range for instances).
uint16_t FreePorts(int count);

// True when `pid` names a live, non-zombie process.
bool ProcessAlive(pid_t pid);

struct HttpResult {
  int status = 0;  // 0: no answer
  std::string body;
};
HttpResult HttpGet(uint16_t port, const std::string& target,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

std::string ReadAll(const std::filesystem::path& path);
// Creates the missing folders on the way.
void WriteAll(const std::filesystem::path& path, const std::string& content);

// Paths of the binaries under test, set by CMake.
std::filesystem::path YokeBinary();
std::filesystem::path FixtureBinary();
std::filesystem::path ExecHelperBinary();  // yoke-exec of this build

}  // namespace yoke::testing
