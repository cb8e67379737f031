// A one-connection HTTP server on 127.0.0.1 (port 0) for client tests (the HTTP client, the
// health probe): it plays one scripted connection in the test's own process.
// Thread-safety: its own thread serves; request() locks.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace yoke::testing {

// One connection, played by a script: the server reads the request's head (and its body, by
// Content-Length), then answers `answer` and closes, or says nothing and holds the connection
// until it is destroyed, or closes without a word. Every wait is a 20 ms poll that ends when the
// server is destroyed.
class ScriptedServer {
 public:
  enum class Play { kAnswer, kSilent, kCloseAtOnce };

  explicit ScriptedServer(std::string answer, Play play = Play::kAnswer)
      : answer_(std::move(answer)), play_(play) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 4) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "the scripted server cannot listen";
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  std::string request() {
    std::lock_guard lock(mu_);
    return request_;
  }

 private:
  // Polls `fd` for `events` in 20 ms steps until it is ready or the server stops.
  bool Ready(int fd, short events) {
    while (!stopping_) {
      pollfd p{fd, events, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void Serve() {
    if (!Ready(listen_fd_, POLLIN)) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    if (play_ != Play::kCloseAtOnce) ReadRequest(fd);
    if (play_ == Play::kAnswer) {
      for (size_t sent = 0; sent < answer_.size() && Ready(fd, POLLOUT);) {
        const ssize_t n = ::send(fd, answer_.data() + sent, answer_.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
    }
    if (play_ == Play::kSilent) {
      while (Ready(fd, POLLIN)) {  // until the client gives up (end of file) or the test ends
        char byte;
        if (::recv(fd, &byte, 1, 0) <= 0) break;
      }
    }
    ::close(fd);
  }

  // Reads the head and a Content-Length body into request_.
  void ReadRequest(int fd) {
    std::string in;
    char buffer[4096];
    size_t want = std::string::npos;
    while (in.size() < want && Ready(fd, POLLIN)) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      in.append(buffer, static_cast<size_t>(n));
      const size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      want = end + 4;
      if (size_t at = in.find("Content-Length: "); at != std::string::npos && at < end)
        want += std::stoul(in.substr(at + 16));
    }
    std::lock_guard lock(mu_);
    request_ = in;
  }

  const std::string answer_;
  const Play play_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string request_;  // GUARDED_BY(mu_)
};

}  // namespace yoke::testing
