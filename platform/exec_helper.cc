// yoke-exec: the exec helper. The process launcher (platform/process.cc) starts every child
// with posix_spawn, which runs only glibc's own code between clone and exec; what posix_spawn
// cannot express is done here, in a fresh single-threaded process that owns no lock:
//
//   yoke-exec REPORT_FD PARENT_PID DEATH_SIGNAL PROGRAM ARGV0 [ARG...]
//
//   1. prctl(PR_SET_PDEATHSIG, DEATH_SIGNAL), unless it is 0: the child is told when the
//      thread that spawned it dies (the launcher spawns from a long-lived thread);
//   2. getppid() == PARENT_PID, else exit: the parent died before step 1, nobody would send
//      the signal;
//   3. fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC), then execv(PROGRAM, ARGV0 ARG...), so the
//      program inherits the environment, descriptors 0-2, folder, process group and signal
//      state posix_spawn set up, and not the report pipe.
//
// The launcher reads REPORT_FD: end of file means the exec happened; two ints {step, errno}
// mean a step failed (the helper then exits 127). It allocates nothing and takes no lock; it
// is built without sanitizers (nothing to check, and it starts faster).
// Thread-safety: single-threaded.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace {

constexpr int kExitFailed = 127;

// Steps as reported to the launcher; keep in step with ExecStepName in process.cc.
enum Step : int { kStepArguments = 1, kStepDeathSignal = 2, kStepCloseOnExec = 3, kStepExec = 4 };

bool ParseNonNegative(const char* text, long* out) {
  long value = 0;
  if (*text == '\0') return false;
  for (; *text != '\0'; ++text) {
    if (*text < '0' || *text > '9' || value > 100'000'000) return false;
    value = value * 10 + (*text - '0');
  }
  *out = value;
  return true;
}

[[noreturn]] void Report(int fd, int step, int error) {
  const int message[2] = {step, error};
  // Nothing to do if the launcher is gone: it would have read end of file, or nothing.
  [[maybe_unused]] ssize_t written = ::write(fd, message, sizeof message);
  ::_exit(kExitFailed);
}

}  // namespace

int main(int argc, char** argv) {
  long report_fd = 0, parent = 0, death_signal = 0;
  if (argc < 6 || !ParseNonNegative(argv[1], &report_fd) || report_fd > 1'000'000) {
    return kExitFailed;  // not started by the launcher: no pipe to report on
  }
  const int fd = static_cast<int>(report_fd);
  if (!ParseNonNegative(argv[2], &parent) || !ParseNonNegative(argv[3], &death_signal) ||
      death_signal >= NSIG) {
    Report(fd, kStepArguments, EINVAL);
  }
  if (death_signal != 0 && ::prctl(PR_SET_PDEATHSIG, death_signal) != 0) {
    Report(fd, kStepDeathSignal, errno);
  }
  if (::getppid() != static_cast<pid_t>(parent)) ::_exit(kExitFailed);
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) Report(fd, kStepCloseOnExec, errno);
  ::execv(argv[4], argv + 5);
  Report(fd, kStepExec, errno);
}
