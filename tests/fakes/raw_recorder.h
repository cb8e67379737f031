// A raw HTTP/1.1 backend for proxy tests, in the test's own process: it records every byte it
// receives, parses requests strictly (CRLF only, exactly one Host, one framing field) and answers
// each with "<name> <n> <target>". What it cannot read one way only is counted as ambiguous and
// ends the connection. Thread-safety: its own threads serve; the accessors lock.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace yoke::testing {

class RawRecorder {
 public:
  explicit RawRecorder(std::string name) : name_(std::move(name)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "recorder cannot listen";
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~RawRecorder() {
    stopping_ = true;
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int ambiguous() {
    std::lock_guard lock(mu_);
    return ambiguous_;
  }
  // Every byte received so far, on all connections, whole requests or not.
  uint64_t bytes_received() const { return bytes_received_; }
  std::string garbage() {
    std::lock_guard lock(mu_);
    return garbage_;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    requests_.clear();
    garbage_.clear();
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string in;
    char chunk[16384];
    while (!stopping_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) break;
      in.append(chunk, static_cast<size_t>(n));
      bytes_received_ += static_cast<uint64_t>(n);
      bool bad = false;
      while (true) {
        auto parsed = TakeRequest(in, bad);
        if (bad) {
          std::lock_guard lock(mu_);
          ++ambiguous_;
          garbage_ += in;
          break;
        }
        if (!parsed) break;
        std::string answer;
        {
          std::lock_guard lock(mu_);
          requests_.push_back(parsed->first);
          const std::string body = name_ + " " + std::to_string(++answered_) + " " + parsed->second;
          answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + (parsed->first.starts_with("HEAD ") ? "" : body);
        }
        if (::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0) bad = true;
      }
      if (bad) break;
    }
    ::close(fd);
  }

  // Takes one whole request off the front of `in`: (its bytes, its target). Sets `bad` when the
  // bytes could be read more than one way.
  static std::optional<std::pair<std::string, std::string>> TakeRequest(std::string& in,
                                                                        bool& bad) {
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) {
      bad = in.size() > 65536;
      return std::nullopt;
    }
    const std::string head = in.substr(0, end + 2);
    for (size_t i = 0; i < head.size(); ++i) {
      if ((head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) ||
          (head[i] == '\r' && head[i + 1] != '\n') || head[i] == '\0') {
        bad = true;
      }
    }
    int lengths = 0, codings = 0, hosts = 0;
    uint64_t length = 0;
    for (size_t line = head.find("\r\n") + 2; line < head.size();) {
      const size_t eol = head.find("\r\n", line);
      std::string field = head.substr(line, eol - line);
      line = eol + 2;
      if (field.empty() || field[0] == ' ' || field[0] == '\t') bad = true;  // obs-fold
      const size_t colon = field.find(':');
      if (colon == std::string::npos || colon == 0 || field[colon - 1] == ' ') bad = true;
      if (colon == std::string::npos) continue;
      std::string name = field.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = field.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "host") ++hosts;
      if (name == "content-length") {
        ++lengths;
        if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
          bad = true;
        } else {
          length = std::stoull(value);
        }
      }
      if (name == "transfer-encoding") {
        ++codings;
        if (value != "chunked") bad = true;
      }
    }
    if (lengths > 1 || codings > 1 || hosts != 1 || (lengths && codings)) bad = true;
    if (bad) return std::nullopt;
    size_t total = end + 4;
    if (lengths) {
      total += length;
    } else if (codings) {
      // The proxy's own framing: hex size CRLF data CRLF, ..., 0 CRLF CRLF, no trailers.
      while (true) {
        const size_t eol = in.find("\r\n", total);
        if (eol == std::string::npos) return std::nullopt;
        const std::string size = in.substr(total, eol - total);
        if (size.empty() || size.find_first_not_of("0123456789abcdef") != std::string::npos) {
          bad = true;
          return std::nullopt;
        }
        const uint64_t n = std::stoull(size, nullptr, 16);
        total = eol + 2 + n;
        if (in.size() < total + 2) return std::nullopt;
        if (in.compare(total, 2, "\r\n") != 0) {
          bad = true;
          return std::nullopt;
        }
        total += 2;
        if (n == 0) break;
      }
    }
    if (in.size() < total) return std::nullopt;
    const size_t sp1 = head.find(' ');
    const size_t sp2 = head.find(' ', sp1 + 1);
    std::pair<std::string, std::string> out{in.substr(0, total),
                                            head.substr(sp1 + 1, sp2 - sp1 - 1)};
    in.erase(0, total);
    return out;
  }

  std::string name_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> bytes_received_{0};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // only the acceptor thread adds, before the join
  std::mutex mu_;
  std::vector<std::string> requests_;  // GUARDED_BY(mu_)
  std::string garbage_;                // GUARDED_BY(mu_)
  int ambiguous_ = 0;                  // GUARDED_BY(mu_)
  int answered_ = 0;                   // GUARDED_BY(mu_)
};

}  // namespace yoke::testing
