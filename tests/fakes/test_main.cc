// The main of every test binary (in place of gtest_main): the test harness owns every process a
// test starts, directly or not (tests/fakes/owned_processes.h).
//  - Before anything else, main marks this process's environment (YOKE_TEST_OWNER), so every
//    descendant carries the mark.
//  - When a test ends (passed or failed), whatever it left is given a moment to end by itself,
//    then killed by pid, and named on stderr.
//  - A watchdog thread ends a test that runs longer than YOKE_TEST_WATCHDOG_S seconds (default
//    240, under the suite's ctest --timeout of 300): it kills what the test started, says so
//    and exits 1, so not even a hung test leaves a process behind.
//  - Under AddressSanitizer, a report (which aborts) kills what the test started first.
// Thread-safety: the listener runs on gtest's thread; the watchdog shares the current test's
// deadline with it under a mutex.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "tests/fakes/owned_processes.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace yoke::testing {
namespace {

using Clock = std::chrono::steady_clock;

void ReportKilled(const std::string& test, const std::vector<OwnedProcess>& killed) {
  for (const auto& p : killed) {
    std::fprintf(stderr, "[ harness  ] %s left pid %d running (%s); killed it\n", test.c_str(),
                 static_cast<int>(p.pid), p.cmdline.c_str());
  }
}

class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit) : limit_(limit) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Arm(std::string test) {
    std::lock_guard lock(mu_);
    test_ = std::move(test);
    deadline_ = Clock::now() + limit_;
    cv_.notify_all();
  }
  void Disarm() {
    std::lock_guard lock(mu_);
    deadline_.reset();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!done_) {
      if (!deadline_) {
        cv_.wait(lock);
        continue;
      }
      if (Clock::now() < *deadline_) {
        cv_.wait_until(lock, *deadline_);
        continue;
      }
      std::fprintf(stderr, "[ harness  ] %s ran longer than %lld s: ending what it started\n",
                   test_.c_str(), static_cast<long long>(limit_.count()));
      ReportKilled(test_, EndOwnedProcesses(std::chrono::milliseconds(0)));
      std::fflush(stderr);
      std::_Exit(1);
    }
  }

  const std::chrono::seconds limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;                          // GUARDED_BY(mu_)
  std::optional<Clock::time_point> deadline_;  // GUARDED_BY(mu_)
  std::string test_;                           // GUARDED_BY(mu_)
  std::thread thread_;
};

class OwnershipListener : public ::testing::EmptyTestEventListener {
 public:
  explicit OwnershipListener(Watchdog* watchdog) : watchdog_(watchdog) {}
  void OnTestStart(const ::testing::TestInfo& info) override {
    watchdog_->Arm(std::string(info.test_suite_name()) + "." + info.name());
  }
  // Runs after the test's fixture is destroyed, so every Subprocess has been stopped by then.
  void OnTestEnd(const ::testing::TestInfo& info) override {
    watchdog_->Disarm();
    ReportKilled(std::string(info.test_suite_name()) + "." + info.name(),
                 EndOwnedProcesses(std::chrono::seconds(3)));
  }

 private:
  Watchdog* watchdog_;
};

#if defined(__SANITIZE_ADDRESS__)
void OnSanitizerDeath() { ReportKilled("a test", EndOwnedProcesses(std::chrono::seconds(0))); }
#endif

}  // namespace
}  // namespace yoke::testing

int main(int argc, char** argv) {
  yoke::testing::MarkThisProcessAsOwner();  // before any thread or child exists
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(yoke::testing::OnSanitizerDeath);
#endif
  ::testing::InitGoogleTest(&argc, argv);
  const char* limit_text = std::getenv("YOKE_TEST_WATCHDOG_S");
  long limit = limit_text ? std::atol(limit_text) : 240;
  yoke::testing::Watchdog watchdog(std::chrono::seconds(limit > 0 ? limit : 240));
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new yoke::testing::OwnershipListener(&watchdog));
  return RUN_ALL_TESTS();
}
