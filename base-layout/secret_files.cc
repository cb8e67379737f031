#include "base-layout/secret_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace yoke {
namespace fs = std::filesystem;

Status WriteSecretFile(Env& env, const fs::path& instance_dir, const std::string& name,
                       std::string_view content) {
  const fs::path list = instance_dir / kSecretFileList;
  std::string names;
  if (auto old = env.ReadFile(list)) names = *old;
  std::set<std::string> listed;
  std::istringstream in(names);
  for (std::string line; std::getline(in, line);) listed.insert(line);
  // Listed first: a crash between the two leaves a name with no file, never a file unlisted.
  if (!listed.contains(name)) {
    YOKE_RETURN_IF_ERROR(env.WriteFileAtomic(list, names + name + "\n", FileMode::kPrivate));
  }
  return env.WriteFileAtomic(instance_dir / name, content, FileMode::kPrivate);
}

namespace {

Status Shred(const fs::path& file) {
  Status result = Ok();
  int fd = ::open(file.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      const std::string zeros(8192, '\0');
      off_t left = st.st_size;
      while (left > 0) {
        ssize_t n = ::write(fd, zeros.data(), std::min<off_t>(left, zeros.size()));
        if (n <= 0) {
          result = Fail("cannot overwrite " + file.string() + ": " + std::strerror(errno));
          break;
        }
        left -= n;
      }
      ::fsync(fd);
    }
    ::close(fd);
  } else if (errno != ENOENT) {
    result = Fail("cannot open " + file.string() + " to shred it: " + std::strerror(errno));
  }
  std::error_code ec;
  fs::remove(file, ec);
  if (ec && result) result = Fail("cannot remove " + file.string() + ": " + ec.message());
  return result;
}

}  // namespace

StatusOr<int> ShredSecretFiles(const fs::path& version_dir) {
  int shredded = 0;
  Status first = Ok();
  std::error_code ec;
  const fs::path instances = version_dir / "instances";
  if (!fs::is_directory(instances, ec)) return 0;
  for (const auto& entry : fs::directory_iterator(instances, ec)) {
    const fs::path list = entry.path() / kSecretFileList;
    std::ifstream in(list);
    if (!in) continue;
    for (std::string name; std::getline(in, name);) {
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
        continue;
      }
      Status done = Shred(entry.path() / name);
      if (!done && first) first = done;
      ++shredded;
    }
    in.close();
    fs::remove(list, ec);
  }
  if (!first) return std::unexpected(first.error());
  return shredded;
}

}  // namespace yoke
