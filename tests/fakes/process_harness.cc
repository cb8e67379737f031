#include "tests/fakes/process_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/fakes/temp_dir.h"

namespace yoke::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/yoke-test-XXXXXX";
  if (!::mkdtemp(pattern.data())) std::abort();
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Subprocess::Subprocess(std::vector<std::string> argv, const std::filesystem::path& output_file) {
  auto launcher = MakeProcessLauncher(
      {.exec_helper = ExecHelperBinary(), .death_signal = SIGKILL, .own_process_group = false});
  LaunchSpec spec;
  spec.argv = std::move(argv);
  spec.stdout_path = output_file;
  spec.stderr_path = output_file;
  auto child = launcher->Launch(spec);
  if (!child) {
    std::fprintf(stderr, "Subprocess: %s\n", child.error().message().c_str());
    return;
  }
  child_ = std::move(*child);
}

Subprocess::~Subprocess() {
  if (child_ && !child_->Poll()) {
    // SIGTERM first: a yoke under test then stops its own children, even those that
    // ignore SIGTERM. SIGKILL if it has not gone within 20 s.
    child_->Signal(SIGTERM);
    if (!Wait(std::chrono::seconds(20))) {
      child_->Signal(SIGKILL);
      Wait(std::chrono::seconds(20));
    }
  }
}

void Subprocess::Signal(int sig) {
  if (child_) child_->Signal(sig);
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (!child_) return std::nullopt;
  std::optional<int> result;
  WaitUntil(
      [&] {
        auto exit = child_->Poll();
        if (exit) result = exit->wait_status;
        return exit.has_value();
      },
      timeout);
  return result;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

// The lowest port of the kernel's range for the local ports of outgoing connections (and of
// bind to port 0).
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

bool CanListenOn(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok =
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 1) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

uint16_t FreePorts(int count) {
  // A port handed out by bind(port 0) is in the ephemeral range: once released, any process's
  // next outgoing connection may take it as its local port, and the server it was meant for
  // fails with "Address already in use" (seen in CI with tests in parallel). So ports come
  // from below that range, and are reserved across the test processes of this machine by a
  // lock on /tmp/yoke-test-ports/<port> each, held until this process ends.
  static std::mutex mu;
  static std::minstd_rand random(static_cast<unsigned>(::getpid()) ^ std::random_device{}());
  std::lock_guard lock(mu);
  const int low = EphemeralLow();
  const int first = std::max(1024, low - 12000);
  const std::string dir = "/tmp/yoke-test-ports";
  ::mkdir(dir.c_str(), 01777);
  for (int attempt = 0; attempt < 2000 && first + count <= low; ++attempt) {
    const int start = first + static_cast<int>(random() % (low - count + 1 - first));
    std::vector<int> held;  // fds stay open when the whole block is reserved
    for (int port = start; port < start + count; ++port) {
      const std::string file = dir + "/" + std::to_string(port);
      int fd = ::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0666);
      if (fd < 0) break;
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !CanListenOn(static_cast<uint16_t>(port))) {
        ::close(fd);
        break;
      }
      held.push_back(fd);
    }
    if (static_cast<int>(held.size()) == count) return static_cast<uint16_t>(start);
    for (int fd : held) ::close(fd);
  }
  // No reservation possible: what the kernel gives.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

uint16_t FreePort() { return FreePorts(1); }

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

HttpResult HttpGet(uint16_t port, const std::string& target, std::chrono::milliseconds timeout) {
  HttpResult result;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return result;
  }
  std::string request =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, n);
  ::close(fd);
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return result;
  result.status = std::stoi(response.substr(9, 3));
  auto body = response.find("\r\n\r\n");
  if (body != std::string::npos) result.body = response.substr(body + 4);
  return result;
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::filesystem::path& path, const std::string& content) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::filesystem::path YokeBinary() { return YOKE_TEST_YOKE_BIN; }
std::filesystem::path FixtureBinary() { return YOKE_TEST_FIXTURE_BIN; }
std::filesystem::path ExecHelperBinary() { return YOKE_TEST_EXEC_HELPER; }

}  // namespace yoke::testing
