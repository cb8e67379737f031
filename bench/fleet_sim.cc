// The fleet simulation (docs/benchmarks.md, "Fleet"): N hosts (MetaSync, the code `yoke run`
// runs, through tests/fakes/fleet_sim) follow one bare remote over file://; each makes D
// decisions as fast as it can, all at once. Prints the time until every decision is in the
// remote once (none lost, none doubled) with every host's status current, and the pushes
// retried per decision.
//   build/bench/fleet_sim_bench [hosts=100] [decisions=10] [timeout_s=600]
#include "tests/fakes/fleet_sim.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "meta/fleet.h"
#include "meta/git_store.h"
#include "meta/layout.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const int hosts = argc > 1 ? std::atoi(argv[1]) : 100;
  const int decisions = argc > 2 ? std::atoi(argv[2]) : 10;
  const int timeout_s = argc > 3 ? std::atoi(argv[3]) : 600;
  const fs::path dir = fs::temp_directory_path() / ("yoke-fleet-sim-" + std::to_string(getpid()));
  const fs::path remote = dir / "remote.git";
  fs::create_directories(dir);
  if (!yoke::meta::GitStore::OpenOrInit(remote.string(), "main", true)) return 1;
  int code = 1;
  {
    yoke::testing::FleetSim sim(dir, "file://" + remote.string());
    for (int i = 0; i < hosts; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "h%03d", i);
      sim.Add(name, /*heartbeat_s=*/0);
    }
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
    for (auto& t : writers) t.join();
    const size_t want = static_cast<size_t>(hosts) * decisions;
    size_t landed = 0;
    bool doubled = false;
    for (;;) {
      auto store = yoke::meta::GitStore::Open(remote.string(), "main");
      auto fleet = yoke::meta::ReadFleet(**store, "shop", "prod");
      landed = fleet ? fleet->decisions.entries.size() : 0;
      size_t queued = 0;
      for (auto& host : sim.hosts()) queued += host->sync->Snapshot().queued();
      if (landed == want && queued == 0) {
        // Each decision in exactly one commit.
        auto log = (*store)->Log(1000000);
        std::map<std::string, int> commits;
        for (const auto& c : *log) {
          if (c.message.find(": pin 1.0.0") != std::string::npos) ++commits[c.message];
        }
        size_t pin_commits = 0;
        for (const auto& [m, n] : commits) pin_commits += n;
        doubled = pin_commits != want;
        break;
      }
      if (std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_s)) break;
      std::this_thread::sleep_for(200ms);
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double retries = 0, pushes = 0;
    for (auto& host : sim.hosts()) {
      retries += host->sync->Snapshot().push_failures();
      pushes += host->sync->Snapshot().pushes();
    }
    std::printf(
        "fleet_sim: %d hosts x %d decisions: %zu of %zu landed%s in %.1f s; %.0f pushes, %.0f "
        "refused and retried (%.2f per decision)\n",
        hosts, decisions, landed, want,
        doubled ? " (SOME DOUBLED OR MISSING COMMITS)" : ", each once", secs, pushes, retries,
        retries / want);
    code = landed == want && !doubled ? 0 : 1;
  }
  fs::remove_all(dir);
  return code;
}
