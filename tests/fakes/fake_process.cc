#include "tests/fakes/fake_process.h"

#include <signal.h>

namespace yoke::testing {
namespace {

class FakeChild : public ChildProcess {
 public:
  explicit FakeChild(std::shared_ptr<FakeChildState> state) : state_(std::move(state)) {}
  pid_t pid() const override { return state_->pid; }
  std::optional<ExitInfo> Poll() override { return state_->exit; }
  void Signal(int sig) override {
    state_->signals.push_back(sig);
    if (state_->exit) return;
    if (sig == SIGKILL || (sig == SIGTERM && state_->exit_on_sigterm)) {
      state_->exit = ExitInfo{-1, sig};
    }
  }

 private:
  std::shared_ptr<FakeChildState> state_;
};

}  // namespace

StatusOr<std::unique_ptr<ChildProcess>> FakeLauncher::Launch(const LaunchSpec& spec) {
  ++starts;
  if (fail_starts.contains(starts)) return Fail("fake exec failure");
  auto state = std::make_shared<FakeChildState>();
  // Above any pid Linux hands out (pid_max is at most 2^22), so /proc look-ups find nothing.
  state->pid = 1'000'000'000 + starts;
  state->spec = spec;
  children.push_back(state);
  return std::unique_ptr<ChildProcess>(new FakeChild(state));
}

StatusOr<std::unique_ptr<ChildProcess>> FakeLauncher::Adopt(pid_t pid, uint64_t) {
  for (const auto& state : children) {
    if (state->pid == pid && !state->exit)
      return std::unique_ptr<ChildProcess>(new FakeChild(state));
  }
  return Fail("not a child of this launcher");
}

}  // namespace yoke::testing
