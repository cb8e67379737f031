#include "supervisor/daemon/archiver.h"

#include <algorithm>

namespace yoke {

Archiver::Archiver(Job job, Mode mode) : job_(std::move(job)) {
  if (mode == Mode::kBackground) thread_ = std::thread([this] { Run(); });
}

Archiver::~Archiver() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Archiver::Submit(const std::string& version) {
  if (!thread_.joinable()) {
    if (Busy(version)) return;
    StatusOr<std::filesystem::path> zip = job_(version);
    std::lock_guard lock(mu_);
    results_.push_back({version, std::move(zip)});
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (std::find(queue_.begin(), queue_.end(), version) != queue_.end()) return;
    queue_.push_back(version);
  }
  wake_.notify_all();
}

bool Archiver::Busy(const std::string& version) const {
  std::lock_guard lock(mu_);
  return std::find(queue_.begin(), queue_.end(), version) != queue_.end();
}

std::vector<Archiver::Result> Archiver::TakeResults() {
  std::lock_guard lock(mu_);
  std::vector<Result> done;
  done.swap(results_);
  return done;
}

void Archiver::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const std::string version = queue_.front();  // stays queued, so Busy, while it runs
    lock.unlock();
    StatusOr<std::filesystem::path> zip = job_(version);
    lock.lock();
    queue_.pop_front();
    results_.push_back({version, std::move(zip)});
  }
}

}  // namespace yoke
