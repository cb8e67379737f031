// The launcher under load (issue 20): thousands of starts and stops while other threads
// allocate and log through spdlog, the situation in which a fork-based start could hang forever
// in the child (a lock held by another thread at the fork). Every start must return within its
// deadline, every child must be reaped, and nothing may be left. Bounded: it fails rather than
// waits past kTimeLimit. Label `stress`: ctest -L stress. YOKE_STRESS_STARTS changes the count.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>
#include <vector>

#include "platform/process.h"
#include "tests/fakes/owned_processes.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kExecDeadline = 2000ms;
constexpr auto kExitWait = 5s;
constexpr auto kTimeLimit = 120s;

int Starts() {
  const char* text = std::getenv("YOKE_STRESS_STARTS");
  int n = text ? std::atoi(text) : 2000;
  return n > 0 ? n : 2000;
}

// Waits for `pid` (a child of this process, not yet reaped) to end, without polling on a timer:
// a pidfd becomes readable when the process exits.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  // glibc 2.36's <sys/pidfd.h> lacks extern "C"; the system call is the same.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int ready;
  do ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (ready < 0 && errno == EINTR);
  ::close(fd);
  return ready == 1;
}

// Threads that allocate and log as fast as they can until stopped: they hold the allocator's
// and spdlog's locks at random moments, which is what a fork in the middle would inherit.
class Noise {
 public:
  explicit Noise(int threads) {
    auto logger = spdlog::basic_logger_mt("stress-noise", "/dev/null");
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, logger, t] {
        std::map<int, std::string> live;
        for (uint64_t i = 0; !stop_; ++i) {
          live[static_cast<int>(i % 512)] = std::string(16 + (i * 37 + t) % 4096, 'x');
          if (i % 64 == 0) live.clear();
          logger->info("noise thread {} iteration {} holding {} strings", t, i, live.size());
          ++lines_;
          // Pacing, not waiting: bursts keep the locks busy and leave the launcher a core.
          if (i % 256 == 255) std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
      });
    }
  }
  ~Noise() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    spdlog::drop("stress-noise");
  }
  uint64_t lines() const { return lines_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> lines_{0};
  std::vector<std::thread> threads_;
};

// 2,000 starts and stops, half of a program that exits by itself (/bin/true), half of one that
// is stopped (sleep, SIGTERM to its process group), while three threads allocate and log.
TEST(ProcessStressTest, StartsAndStopsUnderAllocationAndLogging) {
  testing::TempDir dir;
  auto launcher = MakeProcessLauncher(
      {.exec_helper = testing::ExecHelperBinary(), .exec_deadline = kExecDeadline});
  LaunchSpec spec;
  spec.working_dir = dir.path();
  spec.stdout_path = dir.path() / "stdout";
  spec.stderr_path = dir.path() / "stderr";

  const int starts = Starts();
  std::vector<double> start_ms;
  start_ms.reserve(starts);
  int failed_starts = 0, unreaped = 0, done = 0;
  std::string first_failure;
  const auto begin = Clock::now();
  {
    Noise noise(3);
    for (int i = 0; i < starts && Clock::now() - begin < kTimeLimit; ++i, ++done) {
      bool stop = i % 2 == 1;
      spec.argv = stop ? std::vector<std::string>{"/bin/sleep", "30"}
                       : std::vector<std::string>{"/bin/true"};
      auto t0 = Clock::now();
      auto child = launcher->Launch(spec);
      start_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (!child) {
        if (first_failure.empty()) first_failure = child.error().message();
        ++failed_starts;
        continue;
      }
      if (stop) (*child)->Signal(SIGTERM);
      if (!WaitForExit((*child)->pid(), kExitWait) || !(*child)->Poll()) ++unreaped;
    }
    std::printf("[ stress   ] noise threads logged %llu lines\n",
                static_cast<unsigned long long>(noise.lines()));
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - begin).count();
  std::sort(start_ms.begin(), start_ms.end());
  auto at = [&](double q) {
    return start_ms.empty() ? 0.0 : start_ms[static_cast<size_t>(q * (start_ms.size() - 1))];
  };
  auto left = testing::OwnedProcesses();
  std::printf(
      "[ stress   ] %d starts in %.1f s; start time median %.2f ms, p99 %.2f ms, max %.2f ms "
      "(deadline %lld ms); %d failed starts, %d not reaped, %zu processes left\n",
      done, total_s, at(0.5), at(0.99), at(1.0), static_cast<long long>(kExecDeadline.count()),
      failed_starts, unreaped, left.size());
  ::testing::Test::RecordProperty("starts", done);
  ::testing::Test::RecordProperty("max_start_us", static_cast<int>(at(1.0) * 1000));

  EXPECT_EQ(done, starts) << "did not finish within " << kTimeLimit.count() << " s";
  EXPECT_EQ(failed_starts, 0) << first_failure;
  EXPECT_EQ(unreaped, 0);
  EXPECT_LT(at(1.0), static_cast<double>(kExecDeadline.count()));
  for (const auto& p : left) ADD_FAILURE() << "left running: pid " << p.pid << " " << p.cmdline;
}

}  // namespace
}  // namespace yoke
