// Simulated hosts for fleet tests: each is a real MetaSync (the code `yoke run` runs) on its
// own base folder, following one remote, with a stand-in for its supervisor that takes in what
// meta drops into the base and at once promotes it or (for versions it is told to) rejects it,
// writing the decision into the base as the supervisor does. A fleet-wide rollback order is
// carried out at once and recorded.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "meta/sync.h"
#include "platform/real_clock.h"
#include "proto/yoke/records.pb.h"

namespace yoke::testing {

struct SimHost {
  std::string name;
  std::filesystem::path base;
  std::unique_ptr<meta::MetaSync> sync;
  std::mutex mu;
  std::string running = "1.0.0";   // GUARDED_BY(mu)
  std::vector<std::string> taken;  // GUARDED_BY(mu): versions taken in, in order
  std::set<std::string> reject;    // GUARDED_BY(mu): versions its judge rejects
  std::string last_rollback;       // GUARDED_BY(mu): the last rollback order it carried out
  int decisions = 0;               // GUARDED_BY(mu)
};

class FleetSim {
 public:
  // Hosts follow `url` (env "prod", channel "stable"; `project` and `service` as given); their
  // bases are made under `dir`; artifacts are "<service>-<version>.sh".
  FleetSim(std::filesystem::path dir, std::string url, std::string project = "shop",
           std::string service = "shop");
  ~FleetSim();
  FleetSim(const FleetSim&) = delete;
  FleetSim& operator=(const FleetSim&) = delete;

  // Merged into every host's meta settings from the next Add: a remote's credentials.
  void SetRemoteSettings(const MetaSettings& settings) { remote_settings_ = settings; }
  SimHost& Add(const std::string& name, uint32_t heartbeat_s = 600);
  // Stops and forgets a host (as a restart would; Add it again to restart it).
  void Remove(const std::string& name);
  std::vector<std::unique_ptr<SimHost>>& hosts() { return hosts_; }
  // Starts the supervisors' stand-in: drops of `versions` are taken in and judged at once.
  void Drive(std::vector<std::string> versions);
  // The hosts that took `version` in.
  std::vector<std::string> Took(const std::string& version);
  // Writes a decision into a host's base as its supervisor would and tells its MetaSync.
  // REQUIRES: h.mu held.
  void Decide(SimHost& h, Verdict verdict, const std::string& from, const std::string& to,
              const std::string& reason);

 private:
  std::filesystem::path dir_;
  std::string url_;
  std::string project_;
  std::string service_;
  MetaSettings remote_settings_;
  RealClock clock_;
  std::vector<std::unique_ptr<SimHost>> hosts_;
  std::mutex hosts_mu_;  // Add and Remove against the driver
  std::atomic<bool> stop_{false};
  std::thread driver_;
};

}  // namespace yoke::testing
