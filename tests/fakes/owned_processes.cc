#include "tests/fakes/owned_processes.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

namespace yoke::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadProcFile(pid_t pid, const char* name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// True when the NUL-separated `environ` holds exactly `entry`.
bool HasEntry(const std::string& environ, const std::string& entry) {
  size_t at = 0;
  while (at < environ.size()) {
    size_t end = environ.find('\0', at);
    if (end == std::string::npos) end = environ.size();
    if (environ.compare(at, end - at, entry) == 0) return true;
    at = end + 1;
  }
  return false;
}

std::string MarkEntry() {
  const char* mark = std::getenv(kOwnerVariable);
  return mark ? std::string(kOwnerVariable) + "=" + mark : std::string();
}

bool Carries(pid_t pid, const std::string& entry) {
  return HasEntry(ReadProcFile(pid, "environ"), entry);
}

}  // namespace

void MarkThisProcessAsOwner() {
  std::random_device random;
  std::string mark =
      std::to_string(::getpid()) + "-" + std::to_string(random()) + std::to_string(random());
  ::setenv(kOwnerVariable, mark.c_str(), 1);
}

std::vector<OwnedProcess> OwnedProcesses() {
  std::vector<OwnedProcess> owned;
  const std::string entry = MarkEntry();
  if (entry.empty()) return owned;
  DIR* proc = ::opendir("/proc");
  if (!proc) return owned;
  const pid_t self = ::getpid();
  // Bounded by the number of entries in /proc.
  while (dirent* d = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(d->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) continue;
    if (!Carries(static_cast<pid_t>(pid), entry)) continue;
    std::string cmdline = ReadProcFile(static_cast<pid_t>(pid), "cmdline");
    while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    owned.push_back({static_cast<pid_t>(pid), cmdline});
  }
  ::closedir(proc);
  return owned;
}

std::vector<OwnedProcess> EndOwnedProcesses(std::chrono::milliseconds grace) {
  auto wait_until_none = [](Clock::time_point deadline) {
    while (true) {
      auto owned = OwnedProcesses();
      // Children of this process that ended stay zombies (no environment, so not listed)
      // until reaped here.
      for (const auto& p : owned) ::waitpid(p.pid, nullptr, WNOHANG);
      if (owned.empty() || Clock::now() >= deadline) return owned;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  auto left = wait_until_none(Clock::now() + grace);
  const std::string entry = MarkEntry();
  std::vector<OwnedProcess> killed;
  for (const auto& p : left) {
    if (!Carries(p.pid, entry)) continue;  // ended (and maybe reused) since the listing
    ::kill(p.pid, SIGKILL);
    killed.push_back(p);
  }
  for (const auto& p : killed) ::waitpid(p.pid, nullptr, WNOHANG);
  wait_until_none(Clock::now() + std::chrono::seconds(5));
  // Reap what was ours; each waitpid names one killed pid, never -1.
  for (const auto& p : killed) ::waitpid(p.pid, nullptr, WNOHANG);
  return killed;
}

}  // namespace yoke::testing
