#include "platform/posix_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace yoke {
namespace fs = std::filesystem;

namespace {

std::unexpected<Error> ErrnoError(const std::string& what, const fs::path& path, int err) {
  return Fail(what + " " + path.string() + ": " + std::strerror(err), ErrorCodeOfErrno(err));
}

Status WriteAll(int fd, std::string_view content, const fs::path& path) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot write", path, errno);
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Status SyncPath(const fs::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync", path, err);
  return Ok();
}

fs::path ParentOf(const fs::path& path) {
  fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

class PosixFileLock : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }

 private:
  int fd_;
};

class Posix : public Env {
 public:
  StatusOr<std::string> ReadFile(const fs::path& path) override {
    // O_NONBLOCK: a FIFO planted where a record belongs must not block the open.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ErrnoError("cannot read", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);  // a FIFO would block, /dev/zero never end: only regular files are read
      return Invalid("cannot read " + path.string() + ": not a regular file");
    }
    std::string content;
    char buffer[65536];
    while (true) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return ErrnoError("cannot read", path, err);
      }
      if (n == 0) break;
      content.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return content;
  }

  Status WriteFileAtomic(const fs::path& path, std::string_view content,
                         FileMode mode = FileMode::kShared) override {
    const fs::path tmp = TempPathFor(path);
    ::unlink(tmp.c_str());  // a leftover may have another mode; O_CREAT keeps an old file's
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    mode == FileMode::kPrivate ? 0600 : 0644);
    if (fd < 0) return ErrnoError("cannot write", tmp, errno);
    Status written = WriteAll(fd, content, tmp);
    if (written && ::fsync(fd) != 0) written = ErrnoError("cannot fsync", tmp, errno);
    ::close(fd);
    if (!written) {
      ::unlink(tmp.c_str());
      return written;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return Fail(
          "cannot rename " + tmp.string() + " to " + path.string() + ": " + std::strerror(err),
          ErrorCodeOfErrno(err));
    }
    return SyncDir(ParentOf(path));
  }

  StatusOr<FileInfo> Stat(const fs::path& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path, errno);
    FileInfo info;
    info.type = S_ISREG(st.st_mode)   ? FileInfo::Type::kRegular
                : S_ISDIR(st.st_mode) ? FileInfo::Type::kDirectory
                : S_ISLNK(st.st_mode) ? FileInfo::Type::kSymlink
                                      : FileInfo::Type::kOther;
    info.size = static_cast<uint64_t>(st.st_size);
    info.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    return info;
  }

  StatusOr<std::vector<std::string>> ListDir(const fs::path& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return ErrnoError("cannot list", dir, errno);
    std::vector<std::string> names;
    while (struct dirent* entry = ::readdir(d)) {
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status CreateDirs(const fs::path& dir) override {
    std::vector<fs::path> created;  // outermost last
    for (fs::path p = dir; !p.empty() && p != p.parent_path(); p = p.parent_path()) {
      struct stat st;
      if (::lstat(p.c_str(), &st) == 0) break;
      created.push_back(p);
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return ErrnoError("cannot create", dir, ec.value());
    for (const fs::path& p : created) YOKE_RETURN_IF_ERROR(SyncDir(ParentOf(p)));
    return Ok();
  }

  Status Rename(const fs::path& from, const fs::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      int err = errno;
      return Fail("cannot move " + from.string() + " to " + to.string() + ": " + std::strerror(err),
                  ErrorCodeOfErrno(err));
    }
    return Ok();
  }

  Status Remove(const fs::path& path) override {
    if (::unlink(path.c_str()) == 0) return Ok();
    if (errno == EISDIR || errno == EPERM) {
      if (::rmdir(path.c_str()) == 0) return Ok();
    }
    return ErrnoError("cannot remove", path, errno);
  }

  Status RemoveAll(const fs::path& path) override {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return ErrnoError("cannot remove", path, ec.value());
    return Ok();
  }

  Status Symlink(const fs::path& target, const fs::path& link) override {
    if (::symlink(target.c_str(), link.c_str()) != 0) return ErrnoError("cannot link", link, errno);
    return Ok();
  }

  StatusOr<fs::path> ReadLink(const fs::path& link) override {
    std::error_code ec;
    fs::path target = fs::read_symlink(link, ec);
    if (ec) return ErrnoError("cannot read link", link, ec.value());
    return target;
  }

  Status MakeExecutable(const fs::path& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path, errno);
    if (::chmod(path.c_str(), st.st_mode | S_IXUSR | S_IXGRP | S_IXOTH) != 0) {
      return ErrnoError("cannot make executable", path, errno);
    }
    return Ok();
  }

  Status SyncDir(const fs::path& dir) override { return SyncPath(dir, O_RDONLY | O_DIRECTORY); }

  Status SyncTree(const fs::path& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoError("cannot stat", path, errno);
    if (S_ISREG(st.st_mode)) return SyncPath(path, O_RDONLY | O_NOFOLLOW);
    if (!S_ISDIR(st.st_mode)) return Ok();  // a link's own entry is synced with its folder
    std::error_code ec;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::file_status status = it->symlink_status(ec);
      if (ec) break;
      if (fs::is_regular_file(status)) YOKE_RETURN_IF_ERROR(SyncPath(it->path(), O_RDONLY));
      if (fs::is_directory(status)) YOKE_RETURN_IF_ERROR(SyncDir(it->path()));
    }
    if (ec) return Fail("cannot list " + path.string() + ": " + ec.message(), ErrorCode::kIo);
    return SyncDir(path);
  }

  StatusOr<DiskSpace> FreeSpace(const fs::path& path) override {
    struct statvfs vfs;
    if (::statvfs(path.c_str(), &vfs) != 0) return ErrnoError("cannot statvfs", path, errno);
    return DiskSpace{uint64_t{vfs.f_bavail} * vfs.f_frsize, uint64_t{vfs.f_blocks} * vfs.f_frsize};
  }

  StatusOr<std::unique_ptr<FileLock>> LockFile(const fs::path& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError("cannot open", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return Conflict(path.string() + " is locked by another process");
      return ErrnoError("cannot lock", path, err);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) (void)!::write(fd, pid.data(), pid.size());
    return std::make_unique<PosixFileLock>(fd);
  }
};

}  // namespace

Env* PosixEnv() {
  static Env* env = new Posix();
  return env;
}

}  // namespace yoke
