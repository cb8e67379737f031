#include "platform/health_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>
#include <cstring>
#include <memory>

namespace yoke {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

bool WaitFor(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    int r = ::poll(&p, 1, MillisLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

class RealProbe : public HealthProbe {
 public:
  ProbeResult Check(uint16_t port, const std::string& http_path,
                    std::chrono::milliseconds timeout) override {
    auto deadline = Clock::now() + timeout;
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return {false, std::string("socket: ") + std::strerror(errno)};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (errno != EINPROGRESS) return {false, std::strerror(errno)};
      if (!WaitFor(fd.get(), POLLOUT, deadline)) return {false, "connect timed out"};
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return {false, std::strerror(err)};
    }
    if (http_path.empty()) return {true, "tcp connect"};

    std::string request = "GET " + http_path +
                          " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nUser-Agent: yoke-health\r\nConnection: close\r\n\r\n";
    size_t sent = 0;
    while (sent < request.size()) {
      if (!WaitFor(fd.get(), POLLOUT, deadline)) return {false, "send timed out"};
      ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n < 0) return {false, std::string("send: ") + std::strerror(errno)};
      sent += static_cast<size_t>(n);
    }
    http::response_parser<http::empty_body> parser;
    parser.skip(true);    // only the status line and headers matter
    std::string pending;  // bytes the parser has not taken yet: it wants whole headers
    char buffer[4096];
    while (!parser.is_header_done()) {
      if (!WaitFor(fd.get(), POLLIN, deadline)) return {false, "no answer within timeout"};
      ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) return {false, "connection closed before an HTTP answer"};
      if (pending.size() + static_cast<size_t>(n) > 64 * 1024)
        return {false, "answer headers too large"};
      pending.append(buffer, static_cast<size_t>(n));
      boost::beast::error_code ec;
      size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec && ec != http::error::need_more) return {false, "bad HTTP answer: " + ec.message()};
      pending.erase(0, used);
    }
    unsigned status = parser.get().result_int();
    return {status >= 200 && status < 300, "HTTP " + std::to_string(status)};
  }
};

}  // namespace

std::unique_ptr<HealthProbe> MakeHealthProbe() { return std::make_unique<RealProbe>(); }

bool IsPortFree(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace yoke
