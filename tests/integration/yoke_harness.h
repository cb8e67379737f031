// Runs the real `yoke run` against a temp base folder on 127.0.0.1, with artifacts that are
// small shell scripts exec'ing the fixture service with per-version flags.
#pragma once

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "proto/yoke/state.pb.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke::testing {

class YokeHarness {
 public:
  // `extra_config` is appended to a config tuned for tests (short settle, grace, backoff).
  explicit YokeHarness(const std::string& extra_config = "");

  const std::filesystem::path& base() const { return base_; }
  const std::filesystem::path& config_path() const { return config_path_; }
  uint16_t first_port() const { return first_port_; }

  void StartYoke();
  Subprocess& yoke() { return *yoke_; }
  // Stops yoke with SIGTERM and returns its wait status.
  std::optional<int> StopYoke(int sig = SIGTERM);
  void KillYoke();

  // Drops an artifact atomically (written under a hidden name, then renamed).
  void DropScript(const std::string& version, const std::string& fixture_flags,
                  const std::string& suffix = ".sh");
  void DropFile(const std::string& name, const std::string& content);

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
  std::unique_ptr<Subprocess> yoke_;
};

}  // namespace yoke::testing
