#include "platform/age.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace yoke {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

StatusOr<PipedResult> RunPiped(const std::vector<std::string>& argv, const std::string& input,
                               std::chrono::milliseconds timeout, size_t max_output) {
  if (argv.empty()) return Invalid("no program to run");
  // A child that stops reading early must end in EPIPE here, not kill the caller; yoke ignores
  // SIGPIPE already, the CLI does from here on.
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Fail(Errno("pipe"));
  Fd in_r{in[0]}, in_w{in[1]};
  if (::pipe2(out, O_CLOEXEC) != 0) return Fail(Errno("pipe"));
  Fd out_r{out[0]}, out_w{out[1]};
  if (::pipe2(err, O_CLOEXEC) != 0) return Fail(Errno("pipe"));
  Fd err_r{err[0]}, err_w{err[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail("cannot run " + argv[0] + ": " + std::strerror(rc));
  in_r.Close();
  out_w.Close();
  err_w.Close();
  ::fcntl(in_w.fd, F_SETFL, O_NONBLOCK);

  PipedResult result;
  size_t written = 0;
  if (input.empty()) in_w.Close();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string problem;
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      problem = argv[0] + " did not finish within " + std::to_string(timeout.count()) + " ms";
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (in_w.fd >= 0) fds[n++] = {in_w.fd, POLLOUT, 0};
    if (out_r.fd >= 0) fds[n++] = {out_r.fd, POLLIN, 0};
    if (err_r.fd >= 0) fds[n++] = {err_r.fd, POLLIN, 0};
    int ready = ::poll(fds, n, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      problem = Errno("poll");
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_w.fd) {
        ssize_t w = ::write(in_w.fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) in_w.Close();  // the child stopped reading
        if (written == input.size()) in_w.Close();
        continue;
      }
      Fd& from = fds[i].fd == out_r.fd ? out_r : err_r;
      std::string& into = fds[i].fd == out_r.fd ? result.out : result.err;
      char buf[8192];
      ssize_t r = ::read(from.fd, buf, sizeof buf);
      if (r > 0) {
        into.append(buf, static_cast<size_t>(r));
        if (into.size() > max_output) problem = argv[0] + " wrote more than allowed";
      } else if (r == 0 || errno != EINTR) {
        from.Close();
      }
    }
    if (!problem.empty()) break;
  }
  if (!problem.empty()) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!problem.empty()) return Fail(problem);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Status CheckPrivateFile(const std::filesystem::path& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Fail(Errno(what + " " + path.string()));
  if (!S_ISREG(st.st_mode)) return Invalid(what + " " + path.string() + " is not a regular file");
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Invalid(what + " " + path.string() + " has mode " + mode +
                   "; it must be 0600 or stricter (chmod 600 " + path.string() + ")");
  }
  return Ok();
}

namespace {
std::string FirstLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  auto nl = text.rfind('\n');  // age's last line is its error
  if (nl != std::string::npos) text = text.substr(nl + 1);
  return text.empty() ? "no message" : text;
}
}  // namespace

StatusOr<std::string> AgeDecrypt(const std::filesystem::path& identity_file,
                                 const std::string& ciphertext, const AgeOptions& options) {
  YOKE_RETURN_IF_ERROR(CheckPrivateFile(identity_file, "secrets identity_file"));
  YOKE_ASSIGN_OR_RETURN(
      PipedResult run,
      RunPiped({options.binary, "-d", "-i", identity_file.string()}, ciphertext, options.timeout));
  if (run.exit_code != 0) return Fail("age cannot decrypt it: " + FirstLine(run.err));
  return std::move(run.out);
}

StatusOr<std::string> AgeEncrypt(const std::vector<std::string>& recipients,
                                 const std::string& plaintext, const AgeOptions& options) {
  if (recipients.empty()) return Invalid("no recipient to encrypt to");
  std::vector<std::string> argv = {options.binary, "-a"};
  for (const std::string& r : recipients) {
    argv.push_back("-r");
    argv.push_back(r);
  }
  YOKE_ASSIGN_OR_RETURN(PipedResult run, RunPiped(argv, plaintext, options.timeout));
  if (run.exit_code != 0) return Fail("age cannot encrypt: " + FirstLine(run.err));
  return std::move(run.out);
}

}  // namespace yoke
