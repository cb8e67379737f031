#include "tests/fakes/fault_env.h"

#include <algorithm>

namespace yoke::testing {
namespace fs = std::filesystem;

bool FaultEnv::Inject() {
  ++mutations_;
  if (fail_from_ > 0 && mutations_ >= fail_from_) {
    ++failures_;
    return true;
  }
  return false;
}

Status FaultEnv::WriteFileAtomic(const fs::path& path, std::string_view content, FileMode mode) {
  if (Inject()) return IoError("injected: cannot write " + path.string());
  return real_->WriteFileAtomic(path, content, mode);
}

Status FaultEnv::CreateDirs(const fs::path& dir) {
  if (Inject()) return IoError("injected: cannot create " + dir.string());
  return real_->CreateDirs(dir);  // durable by its contract
}

Status FaultEnv::Rename(const fs::path& from, const fs::path& to) {
  if (Inject()) return IoError("injected: cannot move " + from.string());
  YOKE_RETURN_IF_ERROR(real_->Rename(from, to));
  unsynced_.push_back({to.parent_path(), from, to});
  return Ok();
}

Status FaultEnv::Remove(const fs::path& path) {
  if (Inject()) return IoError("injected: cannot remove " + path.string());
  return real_->Remove(path);
}

Status FaultEnv::RemoveAll(const fs::path& path) {
  if (Inject()) return IoError("injected: cannot remove " + path.string());
  return real_->RemoveAll(path);
}

Status FaultEnv::Symlink(const fs::path& target, const fs::path& link) {
  if (Inject()) return IoError("injected: cannot link " + link.string());
  YOKE_RETURN_IF_ERROR(real_->Symlink(target, link));
  unsynced_.push_back({link.parent_path(), {}, link});
  return Ok();
}

Status FaultEnv::MakeExecutable(const fs::path& path) {
  if (Inject()) return IoError("injected: cannot chmod " + path.string());
  return real_->MakeExecutable(path);
}

Status FaultEnv::SyncDir(const fs::path& dir) {
  if (Inject()) return IoError("injected: cannot sync " + dir.string());
  YOKE_RETURN_IF_ERROR(real_->SyncDir(dir));
  std::erase_if(unsynced_, [&](const Unsynced& u) { return u.dir == dir; });
  return Ok();
}

Status FaultEnv::SyncTree(const fs::path& path) {
  if (Inject()) return IoError("injected: cannot sync " + path.string());
  return real_->SyncTree(path);
}

StatusOr<DiskSpace> FaultEnv::FreeSpace(const fs::path& path) {
  if (fake_space_) return *fake_space_;
  return real_->FreeSpace(path);
}

void FaultEnv::DropUnsynced() {
  for (auto it = unsynced_.rbegin(); it != unsynced_.rend(); ++it) {
    if (it->from.empty()) {
      (void)real_->RemoveAll(it->to);
    } else {
      (void)real_->Rename(it->to, it->from);
    }
  }
  unsynced_.clear();
}

}  // namespace yoke::testing
