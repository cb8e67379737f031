#include "platform/listen_fds.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern char** environ;

namespace yoke {
namespace {

bool ParseNumber(const char* text, long long& out) {
  if (!text || !*text) return false;
  std::string_view s(text);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

StatusOr<std::vector<ListenFd>> ParseListenFds(const char* listen_pid, const char* listen_fds,
                                               const char* listen_fdnames, pid_t self) {
  std::vector<ListenFd> out;
  if (!listen_pid && !listen_fds) return out;
  long long pid = 0;
  if (!ParseNumber(listen_pid, pid)) {
    return Fail(std::string("LISTEN_PID is not a pid: \"") + (listen_pid ? listen_pid : "") + "\"");
  }
  // sd_listen_fds: the sockets are for the process LISTEN_PID names, never for its children.
  if (pid != self) return out;
  long long count = 0;
  if (!ParseNumber(listen_fds, count) || count < 0 || count > 1024) {
    return Fail(std::string("LISTEN_FDS is not a count: \"") + (listen_fds ? listen_fds : "") +
                "\"");
  }
  std::vector<std::string> names;
  if (listen_fdnames && *listen_fdnames) {
    std::string_view rest(listen_fdnames);
    while (true) {
      auto colon = rest.find(':');
      names.emplace_back(rest.substr(0, colon));
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
    if (names.size() != static_cast<size_t>(count)) {
      return Fail("LISTEN_FDNAMES names " + std::to_string(names.size()) +
                  " sockets, LISTEN_FDS says " + std::to_string(count));
    }
  }
  for (int i = 0; i < count; ++i) {
    std::string name;
    // systemd names an unnamed socket "unknown"; yoke reads position then.
    if (i < static_cast<int>(names.size()) && names[i] != "unknown" && !names[i].empty()) {
      name = names[i];
    } else {
      name = i == 0 ? "proxy" : i == 1 ? "admin" : "unknown";
    }
    out.push_back({name, kListenFdsStart + i});
  }
  return out;
}

int InheritedSockets::Take(const std::string& name) {
  auto it = by_name.find(name);
  if (it == by_name.end()) return -1;
  int fd = it->second;
  by_name.erase(it);
  return fd;
}

InheritedSockets TakeInheritedSockets() {
  InheritedSockets out;
  auto parsed = ParseListenFds(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"),
                               std::getenv("LISTEN_FDNAMES"), ::getpid());
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!parsed) {
    out.problems.push_back("inherited sockets ignored: " + parsed.error().message());
    return out;
  }
  for (const ListenFd& l : *parsed) {
    int flags = ::fcntl(l.fd, F_GETFD);
    if (flags < 0) {
      out.problems.push_back("inherited socket " + l.name + " (fd " + std::to_string(l.fd) +
                             ") is not open");
      continue;
    }
    ::fcntl(l.fd, F_SETFD, flags | FD_CLOEXEC);
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(l.fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
      out.problems.push_back("inherited fd " + std::to_string(l.fd) + " (" + l.name +
                             ") is not a listening socket; closed");
      ::close(l.fd);
      continue;
    }
    if (l.name != "proxy" && l.name != "admin") {
      out.problems.push_back("inherited socket named \"" + l.name + "\" (fd " +
                             std::to_string(l.fd) + ") is neither \"proxy\" nor \"admin\"; closed");
      ::close(l.fd);
      continue;
    }
    if (out.by_name.contains(l.name)) {
      out.problems.push_back("a second inherited socket named " + l.name + " (fd " +
                             std::to_string(l.fd) + "); closed");
      ::close(l.fd);
      continue;
    }
    out.by_name[l.name] = l.fd;
  }
  return out;
}

std::vector<std::string> EnvironmentHandingOn(const std::vector<std::string>& names, pid_t pid) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("LISTEN_PID=") || entry.starts_with("LISTEN_FDS=") ||
        entry.starts_with("LISTEN_FDNAMES=")) {
      continue;
    }
    env.emplace_back(entry);
  }
  std::string joined;
  for (const std::string& n : names) joined += (joined.empty() ? "" : ":") + n;
  env.push_back("LISTEN_PID=" + std::to_string(pid));
  env.push_back("LISTEN_FDS=" + std::to_string(names.size()));
  env.push_back("LISTEN_FDNAMES=" + joined);
  return env;
}

}  // namespace yoke
