#include "platform/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace yoke {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  // > 0: WATCHDOG_USEC is set and WATCHDOG_PID (if any) is this process.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(usec);
  }
}

void SystemdNotifier::Send(const std::string& message) {
  if (!enabled_) return;
  // 0: no socket (cannot happen once enabled); < 0: the socket refused, logged once per kind.
  int r = sd_notify(0, message.c_str());
  if (r < 0) {
    spdlog::warn("systemd notify \"{}\" failed: {}", message.substr(0, message.find('\n')),
                 std::strerror(-r));
  }
}

void SystemdNotifier::Ready(std::string_view status) {
  if (ready_sent_) return;
  ready_sent_ = true;
  last_status_ = std::string(status);
  Send("READY=1\nSTATUS=" + last_status_);
}

void SystemdNotifier::SetStatus(std::string_view status) {
  if (status == last_status_) return;
  last_status_ = std::string(status);
  Send("STATUS=" + last_status_);
}

void SystemdNotifier::Watchdog(std::chrono::steady_clock::time_point now) {
  if (!watchdog_) return;
  if (last_watchdog_ && now - *last_watchdog_ < *watchdog_ / 2) return;
  last_watchdog_ = now;
  Send("WATCHDOG=1");
}

void SystemdNotifier::Reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
  ready_sent_ = false;
}

void SystemdNotifier::Stopping() { Send("STOPPING=1"); }

}  // namespace yoke
