// A process launcher and health probe under a test's control: children are plain objects the
// test ends by hand, the Nth start can be made to fail, and health answers are set per port.
// Thread-safety: single-threaded, like the supervisor loop that calls them.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "platform/health_probe.h"
#include "platform/process.h"

namespace yoke::testing {

struct FakeChildState {
  pid_t pid = 0;
  LaunchSpec spec;
  std::optional<ExitInfo> exit;
  std::vector<int> signals;
  bool exit_on_sigterm = true;
};

class FakeLauncher : public ProcessLauncher {
 public:
  StatusOr<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) override;
  // Adopts a child this launcher started that has not exited (as after an in-place upgrade,
  // where the children are still the process's own); start ticks are not checked.
  StatusOr<std::unique_ptr<ChildProcess>> Adopt(pid_t pid, uint64_t start_ticks) override;

  // Starts numbered from 1; these fail as if exec had failed.
  std::set<int> fail_starts;
  std::vector<std::shared_ptr<FakeChildState>> children;
  int starts = 0;
};

class FakeProbe : public HealthProbe {
 public:
  ProbeResult Check(uint16_t port, const std::string&, std::chrono::milliseconds) override {
    return {healthy, healthy ? "fake ok" : "fake down"};
  }
  bool healthy = true;
};

}  // namespace yoke::testing
