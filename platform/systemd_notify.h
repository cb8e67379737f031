// Talks to systemd's service manager for a `Type=notify` unit (sd_notify(3), libsystemd):
// READY=1 once yoke serves, STATUS= lines with the judge's state, WATCHDOG=1 keep-alives while
// the loop turns (WatchdogSec=), RELOADING=1 around a SIGHUP reload and STOPPING=1 at the end.
// Without NOTIFY_SOCKET in the environment (not started by systemd) every call does nothing.
// The variables stay in the environment: an in-place upgrade (SIGUSR2) execs the same pid, which
// goes on notifying; the process launcher keeps them from the instances.
// Thread-safety: not thread-safe; the supervisor loop's thread uses it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace yoke {

class SystemdNotifier {
 public:
  SystemdNotifier();  // reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID

  bool enabled() const { return enabled_; }
  // WATCHDOG_USEC when set for this process (WATCHDOG_PID absent or ours).
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  // READY=1 with a STATUS= line; sent once, later calls do nothing (after a reload: again).
  void Ready(std::string_view status);
  bool ready_sent() const { return ready_sent_; }
  // STATUS=<status>, only when it differs from the last one sent.
  void SetStatus(std::string_view status);
  // WATCHDOG=1 when half the watchdog interval has passed since the last one (or never sent).
  void Watchdog(std::chrono::steady_clock::time_point now);
  // RELOADING=1 (with MONOTONIC_USEC, as systemd 253's Type=notify-reload wants); the next
  // Ready() sends READY=1 again.
  void Reloading();
  void Stopping();

 private:
  void Send(const std::string& message);

  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  bool ready_sent_ = false;
  std::string last_status_;
  std::optional<std::chrono::steady_clock::time_point> last_watchdog_;
};

}  // namespace yoke
