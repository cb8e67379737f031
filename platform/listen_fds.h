// Listening sockets handed to yoke by whoever exec'd it: systemd's socket activation, or yoke
// itself across an in-place upgrade (SIGUSR2). Both use sd_listen_fds(3)'s convention:
//   LISTEN_PID      the pid the sockets are meant for; anything else means "not for us" (a
//                   variable inherited by accident from a parent), and they are ignored;
//   LISTEN_FDS      how many: descriptors 3, 4, ... 3+N-1;
//   LISTEN_FDNAMES  optional, colon-separated names (FileDescriptorName= in a .socket unit).
// yoke knows two names, "proxy" and "admin". Unnamed, the first is the proxy's and the second
// the admin API's.
//
// TakeInheritedSockets reads the variables once, unsets them (so no instance inherits them),
// and marks every descriptor it returns close-on-exec. Call it first thing in main, before any
// other thread starts: setenv and unsetenv are not thread-safe.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace yoke {

inline constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START

struct ListenFd {
  std::string name;
  int fd = -1;
  bool operator==(const ListenFd&) const = default;
};

// Pure: what the three variables (null when unset) hand to process `self`. Empty when they are
// not for `self` or unset; an error for values that do not parse, or more names than fds.
StatusOr<std::vector<ListenFd>> ParseListenFds(const char* listen_pid, const char* listen_fds,
                                               const char* listen_fdnames, pid_t self);

struct InheritedSockets {
  std::map<std::string, int> by_name;  // "proxy", "admin": listening sockets, close-on-exec
  std::vector<std::string> problems;   // for the log, once logging is up
  // Takes the socket named `name` (ownership passes to the caller); -1 when there is none.
  int Take(const std::string& name);
};

InheritedSockets TakeInheritedSockets();

// The environment for an exec that hands `count` sockets, named `names`, to the same pid: the
// current environment without any LISTEN_* variable, plus LISTEN_PID, LISTEN_FDS and
// LISTEN_FDNAMES.
std::vector<std::string> EnvironmentHandingOn(const std::vector<std::string>& names, pid_t pid);

}  // namespace yoke
