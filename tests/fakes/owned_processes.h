// Which processes a test process started, directly or not, and ending them: the test harness
// owns everything a test starts. Every test binary's main (tests/fakes/test_main.cc) marks its
// own environment with YOKE_TEST_OWNER=<pid>-<random> before any thread or child exists; every
// process started from it inherits the mark (yoke passes its environment on to instances, and
// so do shells), even after it is re-parented, changes process group or its parent dies. A
// scan of /proc/*/environ finds them all.
// Thread-safety: the functions are safe to call from any thread; MarkThisProcessAsOwner must
// run before any other thread starts (it calls setenv).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace yoke::testing {

inline constexpr char kOwnerVariable[] = "YOKE_TEST_OWNER";

// Sets YOKE_TEST_OWNER to a value no other process on the machine carries.
void MarkThisProcessAsOwner();

struct OwnedProcess {
  pid_t pid = 0;
  std::string cmdline;  // arguments joined by spaces
};

// Live processes (never this one; zombies have no environment left) that carry this process's
// mark. A pid read here could be reused before a caller acts on it: callers only signal a pid
// they have just listed, and re-check its mark first (EndOwnedProcesses does).
std::vector<OwnedProcess> OwnedProcesses();

// Waits up to `grace` for the owned processes to end by themselves (a child told to stop, an
// instance whose yoke was killed), then sends SIGKILL to each one left, by pid, and waits (up to
// 5 s) for them to go, reaping those that are this process's children. Returns the ones it had
// to kill.
std::vector<OwnedProcess> EndOwnedProcesses(std::chrono::milliseconds grace);

}  // namespace yoke::testing
