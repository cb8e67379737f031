// Archiving versions nothing runs any more, off the supervisor's tick: zipping a large version
// folder takes seconds, and restarts, health checks and admin verdicts must not wait for it.
//
// The loop submits a version; the job (BaseFolder::ArchiveVersion in yoke) runs on the
// archiver's own thread, one at a time, in order; the loop collects the results at its next
// tick. While a version is queued or being zipped it is Busy: the loop neither takes in a new
// artifact of it nor rolls back to it until the job is done (the folder is on its way out).
//
// Thread-safety: Submit, Busy and TakeResults are called from the loop's thread; the job runs
// on the archiver's thread. Destruction finishes the job under way and drops the queued ones
// (the next start archives every unused version again).
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace yoke {

class Archiver {
 public:
  using Job = std::function<StatusOr<std::filesystem::path>(const std::string& version)>;
  enum class Mode {
    kInline,      // the job runs inside Submit (tests that drive the loop step by step)
    kBackground,  // on a thread of the archiver's own (yoke run)
  };

  Archiver(Job job, Mode mode);
  ~Archiver();
  Archiver(const Archiver&) = delete;
  Archiver& operator=(const Archiver&) = delete;

  // Queues `version`; a version already queued or under way is not queued twice.
  void Submit(const std::string& version);
  bool Busy(const std::string& version) const;

  struct Result {
    std::string version;
    StatusOr<std::filesystem::path> zip;  // the archive, or why there is none
  };
  // The jobs finished since the last call, in order.
  std::vector<Result> TakeResults();

 private:
  void Run();

  Job job_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;  // GUARDED_BY(mu_); the front is the one under way
  bool stop_ = false;              // GUARDED_BY(mu_)
  std::vector<Result> results_;    // GUARDED_BY(mu_)
  std::thread thread_;             // only in kBackground
};

}  // namespace yoke
