#include "tests/integration/yoke_harness.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>

#include "base-layout/paths.h"
#include "base-layout/text_record.h"
#include "core/record_text.h"
#include "platform/posix_env.h"
#include "tests/fakes/http_client.h"

namespace yoke::testing {

namespace fs = std::filesystem;

std::vector<Decision> Decisions(const fs::path& base) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(base / "decisions", ec)) {
    // As the supervisor reads them: a temp file being written (.tmp) is not a decision yet.
    if (base_paths::DecisionIdOf(e.path().filename().string())) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Decision> out;
  for (const auto& f : files) {
    Decision d;
    if (ReadTextRecord(*PosixEnv(), f, &d)) out.push_back(d);
  }
  return out;
}

std::optional<Decision> WaitForDecision(const fs::path& base, const std::string& to,
                                        std::chrono::seconds timeout) {
  std::optional<Decision> found;
  WaitUntil(
      [&] {
        for (const auto& d : Decisions(base)) {
          if (d.to_version() == to) found = d;
        }
        return found.has_value();
      },
      timeout);
  return found;
}
using namespace std::chrono_literals;

LoadGenerator::LoadGenerator(uint16_t port, std::vector<std::string> targets, int threads,
                             uint64_t max_requests, std::chrono::seconds max_duration,
                             bool one_shot) {
  auto deadline = std::chrono::steady_clock::now() + max_duration;
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([=, this] {
      auto client = std::make_unique<HttpClient>(port);
      for (uint64_t i = t;
           !stop_ && i < max_requests && std::chrono::steady_clock::now() < deadline;
           i += threads) {
        const std::string& target = targets[i % targets.size()];
        const auto sent = std::chrono::steady_clock::now();
        auto res = client->Request(boost::beast::http::verb::get, target);
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - sent);
        if (!res) {
          ++failed_;
          Note("GET " + target + ": no answer after " + std::to_string(waited.count()) + " ms");
          client = std::make_unique<HttpClient>(port);
        } else {
          ++answered_;
          if (res->result_int() >= 500 && (*res)[boost::beast::http::field::server] == "yoke") {
            ++failed_;
            Note("GET " + target + ": yoke answered " + std::to_string(res->result_int()) + ": " +
                 res->body());
          }
          std::lock_guard lock(mu_);
          ++statuses_[res->result_int()];
          if (one_shot || !res->keep_alive()) client = std::make_unique<HttpClient>(port);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing, not waiting
      }
    });
  }
}

LoadGenerator::~LoadGenerator() { Stop(); }

void LoadGenerator::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void LoadGenerator::Note(std::string failure) {
  std::lock_guard lock(mu_);
  if (failures_.size() < 10) {
    failures_.push_back(std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count() %
                                       100000000) +
                        " " + std::move(failure));
  }
}

std::string LoadGenerator::FailureReport() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const std::string& f : failures_) out += "\n  failed request at " + f;
  return out;
}

std::map<int, uint64_t> LoadGenerator::statuses() const {
  std::lock_guard lock(mu_);
  return statuses_;
}

YokeHarness::YokeHarness(const std::string& extra_config) {
  base_ = dir_.path() / "base";
  fs::create_directories(base_);
  config_path_ = dir_.path() / "yoke.txtpb";
  first_port_ = FreePorts(31);  // port_range: first .. first + 30
  proxy_port_ = FreePort();
  admin_port_ = FreePort();
  WriteAll(config_path_,
           "service: \"hello\"\n"
           "base_dir: \"" +
               base_.string() +
               "\"\n"
               "listen: \"127.0.0.1:" +
               std::to_string(proxy_port_) + "\"\n" +
               "admin_listen: \"127.0.0.1:" + std::to_string(admin_port_) + "\"\n" +
               "port_range { first: " + std::to_string(first_port_) +
               " last: " + std::to_string(first_port_ + 30) +
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

void YokeHarness::StartYoke(const fs::path& binary, const std::vector<std::string>& prefix) {
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), {(binary.empty() ? YokeBinary() : binary).string(), "run", "--config",
                           config_path_.string()});
  yoke_ = std::make_unique<Subprocess>(argv, dir_.path() / "yoke.out");
}

std::optional<ImageStatus> YokeHarness::Image() const {
  HttpResult res = HttpGet(admin_port_, "/status");
  if (res.status != 200) return std::nullopt;
  StatusReport report;
  if (!ParseJsonRecord("/status", res.body, &report) || !report.has_image()) return std::nullopt;
  return report.image();
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

YokeHarness::CliResult YokeHarness::Cli(const std::vector<std::string>& args,
                                        std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {YokeBinary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  fs::path out = dir_.path() / "cli.out";
  Subprocess cli(argv, out);
  auto status = cli.Wait(timeout);
  CliResult result;
  if (status && WIFEXITED(*status)) result.code = WEXITSTATUS(*status);
  result.output = ReadAll(out);
  return result;
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
        if (!ReadTextRecord(*PosixEnv(), base_ / role / "instance.txtpb", &record)) return false;
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
  if (!ReadTextRecord(*PosixEnv(),
                      base_ / "versions" / version / "instances" / name / "instance.txtpb",
                      &record)) {
    return std::nullopt;
  }
  return record;
}

}  // namespace yoke::testing
