// The fleet simulation (docs/benchmarks.md, "Fleet"): N hosts follow one bare remote, over
// file:// or served by git's smart HTTP server (`git http-backend` behind nginx with TLS,
// tests/fakes/git_servers). From 10 hosts on, five are real `yoke run` processes with the
// fixture service (deciding through `yoke pin` / `yoke unpin`); the rest are simulated
// (tests/fakes/fleet_sim: MetaSync, the code `yoke run` runs, in-process). Each host makes D
// decisions as fast as it can, all at once. Prints the time until every decision is in the
// remote once (none lost, none doubled) with every host's queue empty, and the pushes refused
// and retried per decision.
//   build/bench/fleet_sim_bench [hosts=100] [decisions=10] [timeout_s=600] [file|https]
#include "tests/fakes/fleet_sim.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "core/record_text.h"
#include "meta/fleet.h"
#include "meta/git_store.h"
#include "meta/layout.h"
#include "proto/yoke/status.pb.h"
#include "tests/fakes/git_servers.h"
#include "tests/fakes/http_client.h"
#include "tests/integration/yoke_harness.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const int hosts = argc > 1 ? std::atoi(argv[1]) : 100;
  const int decisions = argc > 2 ? std::atoi(argv[2]) : 10;
  const int timeout_s = argc > 3 ? std::atoi(argv[3]) : 600;
  const bool https = argc > 4 && std::string(argv[4]) == "https";
  const fs::path dir = fs::temp_directory_path() / ("yoke-fleet-sim-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::optional<yoke::testing::HttpsGitServer> server;
  fs::path remote = dir / "remote.git";
  std::string url = "file://" + remote.string();
  yoke::MetaSettings credentials;
  if (https) {
    if (auto missing = yoke::testing::HttpsGitServer::Unavailable()) {
      std::fprintf(stderr, "fleet_sim: %s\n", missing->c_str());
      return 1;
    }
    server.emplace(dir / "server");
    if (!server->Start()) {
      std::fprintf(stderr, "fleet_sim: the git server did not start: %s\n", server->log().c_str());
      return 1;
    }
    remote = server->repos() / "meta.git";
    url = server->Url("meta.git");
    credentials.set_ca_file(server->ca_file().string());
    credentials.set_https_token_file(server->token_file().string());
    if (!yoke::testing::InitBareRepo(remote)) return 1;
  } else if (!yoke::meta::GitStore::OpenOrInit(remote.string(), "main", true)) {
    return 1;
  }
  int code = 1;
  {
    // Five of the hosts are real `yoke run` processes with the fixture service (from 10 hosts
    // on); they make their decisions through their admin API: `yoke pin` and `yoke unpin` in
    // turn, each a PIN decision. The others are simulated (the same meta code, in-process).
    const int real = hosts >= 10 ? 5 : 0;
    std::string auth;
    if (https) {
      auth = " ca_file: \"" + credentials.ca_file() + "\" https_token_file: \"" +
             credentials.https_token_file() + "\"";
    }
    std::vector<std::unique_ptr<yoke::testing::YokeHarness>> reals;
    for (int i = 0; i < real; ++i) {
      reals.push_back(std::make_unique<yoke::testing::YokeHarness>(
          "meta { url: \"" + url + "\" host: \"r" + std::to_string(i) +
          "\" poll_interval_s: 1 heartbeat_s: 0" + auth + " }\n"));
    }
    if (real > 0) {
      // A release and the channel, so the real hosts have something running.
      const fs::path artifact = dir / "hello-1.0.0.sh";
      yoke::testing::WriteAll(
          artifact, "#!/bin/sh\nexec " + yoke::testing::FixtureBinary().string() + " \"$@\"\n");
      fs::permissions(artifact, fs::perms::owner_all);
      auto& op = *reals[0];
      const std::vector<std::string> where = {"--repo", remote.string(), "--project", "hello"};
      auto meta = [&](std::vector<std::string> args) {
        args.insert(args.end(), where.begin(), where.end());
        return op.Cli(args).code == 0;
      };
      if (!meta({"meta", "release", "add", "--version", "1.0.0", "--artifact", artifact.string(),
                 "--source", "git@example.com:team/hello.git=" + std::string(40, 'a')}) ||
          !meta({"meta", "channel", "set", "--version", "1.0.0"})) {
        std::fprintf(stderr, "fleet_sim: cannot release 1.0.0\n");
        return 1;
      }
      for (auto& y : reals) y->StartYoke();
      for (auto& y : reals) {
        if (!y->WaitForRole("running", "1.0.0", 1, 120s)) {
          std::fprintf(stderr, "fleet_sim: a real host did not start 1.0.0:\n%s\n",
                       y->Log().c_str());
          return 1;
        }
      }
    }
    yoke::testing::FleetSim sim(dir, url, "hello", "hello");
    sim.SetRemoteSettings(credentials);
    for (int i = real; i < hosts; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "h%03d", i);
      sim.Add(name, /*heartbeat_s=*/0);
    }
    // What the fleet held before: the real hosts' own decisions (1.0.0 became running).
    auto pins_in_remote = [&] {
      auto store = yoke::meta::GitStore::Open(remote.string(), "main");
      auto fleet = store ? yoke::meta::ReadFleet(**store, "hello", "prod")
                         : yoke::StatusOr<yoke::meta::Fleet>(std::unexpected(store.error()));
      size_t n = 0;
      if (fleet) {
        for (const auto& e : fleet->decisions.entries)
          n += e.decision.verdict() == yoke::Verdict::PIN;
      }
      return n;
    };
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> writers;
    for (auto& host : sim.hosts()) {
      writers.emplace_back([&sim, h = host.get(), decisions] {
        for (int d = 0; d < decisions; ++d) {
          std::lock_guard lock(h->mu);
          sim.Decide(*h, yoke::Verdict::PIN, "1.0.0", "1.0.0", "drill " + std::to_string(d));
        }
      });
    }
    std::atomic<int> cli_failures{0};
    for (auto& y : reals) {
      writers.emplace_back([y = y.get(), decisions, &cli_failures] {
        for (int d = 0; d < decisions; ++d) {
          auto r = d % 2 == 0 ? y->Cli({"pin", "1.0.0", "--config", y->config_path().string(),
                                        "--reason", "drill " + std::to_string(d)})
                              : y->Cli({"unpin", "--config", y->config_path().string(), "--reason",
                                        "drill " + std::to_string(d)});
          if (r.code != 0) ++cli_failures;
        }
      });
    }
    for (auto& t : writers) t.join();
    const size_t want = static_cast<size_t>(hosts) * decisions;
    size_t landed = 0;
    bool doubled = false;
    auto queued = [&] {
      size_t n = 0;
      for (auto& host : sim.hosts()) n += host->sync->Snapshot().queued();
      for (auto& y : reals) {
        yoke::StatusReport report;
        auto body = yoke::testing::HttpGet(y->admin_port(), "/status").body;
        n += yoke::ParseJsonRecord("/status", body, &report) ? report.meta().queued() : 1;
      }
      return n;
    };
    for (;;) {
      // The remote is read only once every queue is empty: reading a thousand records each
      // time would load the machine the hosts share.
      landed = queued() == 0 ? pins_in_remote() : 0;
      if (landed == want) {
        // Each decision in exactly one commit.
        auto store = yoke::meta::GitStore::Open(remote.string(), "main");
        auto log = (*store)->Log(1000000);
        size_t pin_commits = 0;
        for (const auto& c : *log)
          pin_commits += c.message.find(": pin 1.0.0") != std::string::npos;
        doubled = pin_commits != want;
        break;
      }
      if (std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_s)) break;
      std::this_thread::sleep_for(1s);
    }
    if (landed != want) landed = pins_in_remote();  // timed out: how far it got
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double retries = 0, pushes = 0;
    for (auto& host : sim.hosts()) {
      retries += host->sync->Snapshot().push_failures();
      pushes += host->sync->Snapshot().pushes();
    }
    for (auto& y : reals) {
      yoke::StatusReport report;
      if (yoke::ParseJsonRecord("/status", yoke::testing::HttpGet(y->admin_port(), "/status").body,
                                &report)) {
        retries += report.meta().push_failures();
        pushes += report.meta().pushes();
      }
    }
    std::printf(
        "fleet_sim (%s): %d hosts (%d real) x %d decisions: %zu of %zu landed%s in %.1f s; %.0f "
        "pushes, %.0f refused and retried (%.2f per decision)%s\n",
        https ? "https" : "file", hosts, real, decisions, landed, want,
        doubled ? " (SOME DOUBLED OR MISSING COMMITS)" : ", each once", secs, pushes, retries,
        retries / want, cli_failures ? " (SOME yoke pin/unpin FAILED)" : "");
    std::fflush(stdout);  // before the clean-up below, which takes a while
    code = landed == want && !doubled && cli_failures == 0 ? 0 : 1;
    for (auto& y : reals) y->StopYoke();
  }
  server.reset();  // stops nginx and fcgiwrap by pid
  fs::remove_all(dir);
  return code;
}
