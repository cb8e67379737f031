#include "tests/integration/yoke_harness.h"

#include <cstdio>

#include "base-layout/text_record.h"

namespace yoke::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

YokeHarness::YokeHarness(const std::string& extra_config) {
  base_ = dir_.path() / "base";
  fs::create_directories(base_);
  config_path_ = dir_.path() / "yoke.txtpb";
  first_port_ = FreePort();
  if (first_port_ > 65000) first_port_ = 40000;  // leave room for the range
  WriteAll(config_path_,
           "service: \"hello\"\n"
           "base_dir: \"" +
               base_.string() +
               "\"\n"
               "listen: \"127.0.0.1:0\"\nadmin_listen: \"127.0.0.1:0\"\n"
               "port_range { first: " +
               std::to_string(first_port_) + " last: " + std::to_string(first_port_ + 30) +
               " }\n"
               "command: \"{artifact} --port {port} --version {version} --json-log "
               "logs/json/app.log\"\n" +
               (extra_config.find("health {") == std::string::npos
                    ? "health { http_path: \"/health\" timeout_ms: 5000 interval_ms: 50 }\n"
                    : std::string()) +
               "stop_grace_ms: 1500\n"
               "tick_ms: 50\n"
               "intake { settle_ms: 300 }\n"
               "restart_backoff { initial_ms: 200 max_ms: 800 }\n" +
               extra_config);
}

void YokeHarness::StartYoke() {
  yoke_ = std::make_unique<Subprocess>(
      std::vector<std::string>{YokeBinary().string(), "run", "--config", config_path_.string()},
      dir_.path() / "yoke.out");
}

std::optional<int> YokeHarness::StopYoke(int sig) {
  yoke_->Signal(sig);
  return yoke_->Wait(20s);
}

void YokeHarness::KillYoke() {
  yoke_->Signal(SIGKILL);
  yoke_->Wait(5s);
}

void YokeHarness::DropScript(const std::string& version, const std::string& fixture_flags,
                             const std::string& suffix) {
  DropFile("hello-" + version + suffix,
           "#!/bin/sh\nexec " + FixtureBinary().string() + " \"$@\" " + fixture_flags + "\n");
}

void YokeHarness::DropFile(const std::string& name, const std::string& content) {
  fs::path hidden = base_ / ("." + name + ".writing");
  WriteAll(hidden, content);
  fs::permissions(hidden, fs::perms::owner_all);
  fs::rename(hidden, base_ / name);
}

std::string YokeHarness::Log() const { return ReadAll(dir_.path() / "yoke.out"); }

bool YokeHarness::WaitForLog(const std::string& text, std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return Log().find(text) != std::string::npos; }, timeout);
}

std::optional<InstanceRecord> YokeHarness::WaitForRole(const std::string& role,
                                                       const std::string& version,
                                                       uint32_t min_number,
                                                       std::chrono::milliseconds timeout) {
  std::optional<InstanceRecord> found;
  WaitUntil(
      [&] {
        InstanceRecord record;
        if (!fs::exists(base_ / role / "instance.txtpb")) return false;
        if (!ReadTextRecord(base_ / role / "instance.txtpb", &record)) return false;
        if (record.version() != version || record.ready_at().empty()) return false;
        if (record.number() < min_number) return false;
        found = record;
        return true;
      },
      timeout);
  return found;
}

std::optional<InstanceRecord> YokeHarness::ReadInstance(const std::string& version, int number,
                                                        const std::string& role) const {
  char name[32];
  std::snprintf(name, sizeof name, "%04d-%s", number, role.c_str());
  InstanceRecord record;
  if (!ReadTextRecord(base_ / "versions" / version / "instances" / name / "instance.txtpb",
                      &record)) {
    return std::nullopt;
  }
  return record;
}

}  // namespace yoke::testing
