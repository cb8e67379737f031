#include "tests/fakes/fleet_sim.h"

#include <algorithm>

#include "base-layout/text_record.h"
#include "core/rollout.h"
#include "platform/posix_env.h"

namespace yoke::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

FleetSim::FleetSim(fs::path dir, std::string url, std::string project, std::string service)
    : dir_(std::move(dir)),
      url_(std::move(url)),
      project_(std::move(project)),
      service_(std::move(service)) {}

FleetSim::~FleetSim() {
  stop_ = true;
  if (driver_.joinable()) driver_.join();
  for (auto& host : hosts_) host->sync->Stop();
}

SimHost& FleetSim::Add(const std::string& name, uint32_t heartbeat_s) {
  auto host = std::make_unique<SimHost>();
  SimHost* h = host.get();
  h->name = name;
  h->base = dir_ / name;
  fs::create_directories(h->base / "decisions");
  fs::create_directories(h->base / "state");
  meta::MetaSyncOptions options;
  options.settings.MergeFrom(remote_settings_);
  options.settings.set_url(url_);
  options.settings.set_project(project_);
  options.settings.set_host(name);
  options.settings.set_poll_interval_s(1);
  options.settings.set_heartbeat_s(heartbeat_s);
  options.service = service_;
  options.identifier = service_;
  options.base = h->base;
  options.env = PosixEnv();
  options.yoke_version = "test";
  options.is_current = [h](const std::string& v) {
    std::lock_guard lock(h->mu);
    return v == h->running;
  };
  options.rollback = [h, this](const std::string& version, const std::string& reason,
                               const std::string& author, bool at_once) -> StatusOr<std::string> {
    std::lock_guard lock(h->mu);
    h->last_rollback = version + (at_once ? " now " : " ") + author + ": " + reason;
    Decide(*h, Verdict::ROLLBACK, h->running, version, reason);
    h->running = version;
    return "rolled back";
  };
  h->sync = std::make_unique<meta::MetaSync>(std::move(options), &clock_);
  (void)h->sync->Start();
  h->sync->Notify(h->running, "");
  std::lock_guard lock(hosts_mu_);
  hosts_.push_back(std::move(host));
  return *h;
}

void FleetSim::Remove(const std::string& name) {
  std::lock_guard lock(hosts_mu_);
  auto it = std::find_if(hosts_.begin(), hosts_.end(), [&](auto& h) { return h->name == name; });
  if (it == hosts_.end()) return;
  (*it)->sync->Stop();
  hosts_.erase(it);
}

void FleetSim::Decide(SimHost& h, Verdict verdict, const std::string& from, const std::string& to,
                      const std::string& reason) {
  const WallTime now = std::chrono::system_clock::now();
  Decision d;
  d.set_service(service_);
  d.set_host(h.name);
  d.set_from_version(from);
  d.set_to_version(to);
  d.set_verdict(verdict);
  d.set_time(FormatRfc3339(now));
  d.set_reason(reason);
  d.set_author("judge");
  if (verdict == Verdict::REJECT) {
    Gate* gate = d.add_gates();
    gate->set_name("lost_routes");
    gate->set_outcome("fail");
  }
  const std::string id = FormatUtc(now, "%Y%m%dT%H%M%SZ") + "-" + from + "-to-" + to + "." +
                         std::to_string(++h.decisions);
  (void)WriteTextRecord(*PosixEnv(), h.base / "decisions" / (id + ".txtpb"), d);
  h.sync->Notify(verdict == Verdict::REJECT ? h.running : to, "");
}

void FleetSim::Drive(std::vector<std::string> versions) {
  driver_ = std::thread([this, versions] {
    while (!stop_) {
      {
        std::lock_guard hosts_lock(hosts_mu_);
        for (auto& host : hosts_) {
          SimHost& h = *host;
          for (const std::string& v : versions) {
            fs::path drop = h.base / (service_ + "-" + v + ".sh");
            if (!fs::exists(drop)) continue;
            fs::remove(drop);
            std::lock_guard lock(h.mu);
            h.taken.push_back(v);
            if (h.reject.contains(v)) {
              Decide(h, Verdict::REJECT, h.running, v, "lost a route");
            } else {
              const std::string from = h.running;
              h.running = v;
              Decide(h, Verdict::PROMOTE, from, v, "every gate passed");
            }
          }
        }
      }
      std::this_thread::sleep_for(20ms);  // the stand-in's poll interval
    }
  });
}

std::vector<std::string> FleetSim::Took(const std::string& version) {
  std::vector<std::string> names;
  std::lock_guard hosts_lock(hosts_mu_);
  for (auto& host : hosts_) {
    std::lock_guard lock(host->mu);
    if (std::find(host->taken.begin(), host->taken.end(), version) != host->taken.end()) {
      names.push_back(host->name);
    }
  }
  return names;
}

}  // namespace yoke::testing
