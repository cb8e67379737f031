#include "supervisor/daemon/output_rotation.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace yoke {
namespace fs = std::filesystem;

namespace {

Status Errno(const std::string& what, const fs::path& path) {
  return Fail(what + " " + path.string() + ": " + std::strerror(errno), ErrorCodeOfErrno(errno));
}

// A descriptor closed on scope exit.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

fs::path Numbered(const fs::path& file, uint32_t n) {
  fs::path p = file;
  p += "." + std::to_string(n);
  return p;
}

// Copies from `in` (at its offset 0) to `out` until end of file or `limit` bytes.
Status CopyAll(int in, int out, uint64_t limit, const fs::path& from) {
  uint64_t copied = 0;
  char buffer[1 << 16];
  while (copied < limit) {
    ssize_t n = ::read(in, buffer, std::min<uint64_t>(sizeof buffer, limit - copied));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", from);
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Errno("cannot write the copy of", from);
      done += w;
    }
    copied += static_cast<uint64_t>(n);
  }
  return Ok();
}

}  // namespace

StatusOr<bool> RotateOutputFile(const fs::path& file, uint64_t max_bytes, uint32_t keep) {
  struct stat st;
  if (::lstat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return std::unexpected(Errno("cannot stat", file).error());
  }
  // Only the regular file the launcher created: never a symlink, FIFO or device put in its
  // place, which yoke would otherwise follow, block on or read forever.
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) <= max_bytes) return false;
  Fd in{::open(file.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
  if (in.fd < 0) return std::unexpected(Errno("cannot open", file).error());
  if (::fstat(in.fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (keep > 0) {
    // Older copies shift up; the oldest is replaced. A missing one is no error.
    for (uint32_t n = keep; n > 1; --n) {
      if (::rename(Numbered(file, n - 1).c_str(), Numbered(file, n).c_str()) != 0 &&
          errno != ENOENT) {
        return std::unexpected(Errno("cannot rename", Numbered(file, n - 1)).error());
      }
    }
    fs::path copy = Numbered(file, 1);
    fs::path tmp = file.parent_path() / ("." + file.filename().string() + ".1.tmp");
    Fd out{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)};
    if (out.fd < 0) return std::unexpected(Errno("cannot create", tmp).error());
    // Bounded: what was there, plus at most max_bytes written meanwhile.
    if (auto st2 = CopyAll(in.fd, out.fd, static_cast<uint64_t>(st.st_size) + max_bytes, file);
        !st2) {
      ::unlink(tmp.c_str());
      return std::unexpected(st2.error());
    }
    if (::rename(tmp.c_str(), copy.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return std::unexpected(Errno("cannot rename", tmp).error());
    }
  }
  if (::ftruncate(in.fd, 0) != 0) return std::unexpected(Errno("cannot truncate", file).error());
  return true;
}

}  // namespace yoke
