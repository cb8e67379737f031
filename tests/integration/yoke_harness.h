// Runs the real `yoke run` against a temp base folder on 127.0.0.1, with artifacts that are
// small shell scripts exec'ing the fixture service with per-version flags.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proto/yoke/records.pb.h"
#include "proto/yoke/state.pb.h"
#include "proto/yoke/status.pb.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke::testing {

// Steady user traffic through yoke's proxy: `threads` keep-alive clients cycling through
// `targets`, paced at about one request per millisecond each, counting every answer by status.
// Bounded: it stops by itself after `max_requests` or `max_duration`.
class LoadGenerator {
 public:
  // Keep-alive clients (a connection reused while the server keeps it), or with `one_shot` a
  // new connection for every request.
  LoadGenerator(uint16_t port, std::vector<std::string> targets, int threads = 2,
                uint64_t max_requests = 500000,
                std::chrono::seconds max_duration = std::chrono::seconds(120),
                bool one_shot = false);
  ~LoadGenerator();
  void Stop();
  uint64_t answered() const { return answered_; }
  uint64_t failed() const { return failed_; }  // no answer, or a 5xx from the proxy itself
  std::map<int, uint64_t> statuses() const;
  // The first ten failures: when (ms of the epoch, mod 10^8), which request and what went wrong.
  std::string FailureReport() const;

 private:
  void Note(std::string failure);
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> answered_{0};
  std::atomic<uint64_t> failed_{0};
  mutable std::mutex mu_;
  std::map<int, uint64_t> statuses_;   // GUARDED_BY(mu_)
  std::vector<std::string> failures_;  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

// The decision records in <base>/decisions, oldest first (by file name); one that does not
// parse is left out.
std::vector<Decision> Decisions(const std::filesystem::path& base);
// The newest decision about `to`, once one is there, or nullopt after `timeout`.
std::optional<Decision> WaitForDecision(const std::filesystem::path& base, const std::string& to,
                                        std::chrono::seconds timeout = std::chrono::seconds(50));

class YokeHarness {
 public:
  // `extra_config` is appended to a config tuned for tests (short settle, grace, backoff).
  explicit YokeHarness(const std::string& extra_config = "");

  const std::filesystem::path& base() const { return base_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  uint16_t first_port() const { return first_port_; }
  uint16_t proxy_port() const { return proxy_port_; }
  uint16_t admin_port() const { return admin_port_; }

  // Starts `binary run --config ...` (empty: the build's yoke), after `prefix` when given (a
  // wrapper such as systemd-socket-activate, which then is the process started).
  void StartYoke(const std::filesystem::path& binary = {},
                 const std::vector<std::string>& prefix = {});
  Subprocess& yoke() { return *yoke_; }
  // The test's own temp folder (the base, the config and yoke's output are in it).
  const std::filesystem::path& dir() const { return dir_.path(); }
  // /status's image part (pid, when the image started), or nullopt without an answer.
  std::optional<ImageStatus> Image() const;
  // Stops yoke with SIGTERM and returns its wait status.
  std::optional<int> StopYoke(int sig = SIGTERM);
  void KillYoke();

  // Drops an artifact atomically (written under a hidden name, then renamed).
  void DropScript(const std::string& version, const std::string& fixture_flags,
                  const std::string& suffix = ".sh");
  void DropFile(const std::string& name, const std::string& content);

  // Runs `yoke ARGS...` to completion; its exit code (-1: it did not end within `timeout`) and
  // what it printed.
  struct CliResult {
    int code = -1;
    std::string output;
  };
  CliResult Cli(const std::vector<std::string>& args,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

  std::string Log() const;
  bool WaitForLog(const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // The instance record the role link points at, once it points at a ready instance of
  // `version` numbered `min_number` or more.
  std::optional<InstanceRecord> WaitForRole(
      const std::string& role, const std::string& version, uint32_t min_number = 1,
      std::chrono::milliseconds timeout = std::chrono::seconds(15));
  std::optional<InstanceRecord> ReadInstance(const std::string& version, int number,
                                             const std::string& role) const;

 private:
  TempDir dir_;
  std::filesystem::path base_;
  std::filesystem::path config_path_;
  uint16_t first_port_;
  uint16_t proxy_port_;
  uint16_t admin_port_;
  std::unique_ptr<Subprocess> yoke_;
};

}  // namespace yoke::testing
