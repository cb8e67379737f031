// Live flags (docs/config.md, "Live flags"): a change to flags marked `live` reaches the
// running and testing instances at once, without a candidate: the flags file in each instance
// folder is replaced atomically, the instance gets the configured signal (SIGHUP by default),
// the version's definition in the base takes the new values (so a restart keeps them), and a
// LIVE_FLAGS decision records what changed. On the loop thread, between ticks' other work.
#include <signal.h>
#include <spdlog/spdlog.h>

#include "base-layout/paths.h"
#include "core/definition.h"
#include "core/record_text.h"
#include "supervisor/daemon/instance_definition.h"
#include "supervisor/daemon/supervisor.h"

namespace yoke {

std::future<StatusOr<std::string>> Supervisor::RequestLiveFlags(ServicePolicy definition,
                                                                std::vector<std::string> changes,
                                                                std::string author) {
  LiveFlagsRequest request{std::move(definition), std::move(changes), std::move(author), {}};
  auto future = request.done.get_future();
  std::lock_guard lock(live_mu_);
  live_requests_.push_back(std::move(request));
  return future;
}

namespace {

int SignalNumber(const std::string& name) {
  if (name == "HUP") return SIGHUP;
  if (name == "USR1") return SIGUSR1;
  if (name == "USR2") return SIGUSR2;
  return 0;  // NONE
}

}  // namespace

void Supervisor::HandleLiveFlags() {
  std::vector<LiveFlagsRequest> requests;
  {
    std::lock_guard lock(live_mu_);
    requests.swap(live_requests_);
  }
  for (LiveFlagsRequest& request : requests) {
    const ServicePolicy& d = request.definition;
    const std::string running = VersionOf(running_);
    if (running.empty() || !running_.instance) {
      request.done.set_value(Unavailable("no running instance to give live flags to"));
      continue;
    }
    // The version's definition keeps the new values: a restart starts with them.
    if (auto text = PrintTextRecord(d); text) {
      if (auto st = base_.env().WriteFileAtomic(base_paths::DefinitionFile(base_.root(), running),
                                                *text, FileMode::kPrivate);
          !st) {
        request.done.set_value(std::unexpected(st.error()));
        continue;
      }
    }
    const std::string flags = FlagsFileText(d);
    const int sig = SignalNumber(d.live_flags().signal());
    std::string done;
    for (Slot* slot : {&running_, &testing_}) {
      Instance* inst = slot->instance.get();
      if (!inst || !inst->child) continue;
      if (auto st = base_.env().WriteFileAtomic(inst->dir / d.live_flags().file(), flags); !st) {
        spdlog::error("live flags: cannot write {}: {}",
                      (inst->dir / d.live_flags().file()).string(), st.error().message());
        continue;
      }
      if (sig != 0) inst->child->Signal(sig);
      done += (done.empty() ? "" : ", ") + std::string(slot->role) + " " + inst->record.version() +
              "/" + std::to_string(inst->record.number());
    }
    std::string what;
    for (const std::string& c : request.changes) what += (what.empty() ? "" : "; ") + c;
    spdlog::info("live flags: {} written to {} (signal {})", what, done.empty() ? "none" : done,
                 d.live_flags().signal());
    live_changes_ = request.changes;
    WriteDecision(RecordDecision{running, running, Verdict::LIVE_FLAGS,
                                 "live flags written to " + (done.empty() ? "no instance" : done) +
                                     " (signal " + d.live_flags().signal() + "): " + what,
                                 request.author, false});
    live_changes_.clear();
    journal_dirty_ = true;
    request.done.set_value("live flags given to " + (done.empty() ? "no instance" : done));
  }
}

}  // namespace yoke
