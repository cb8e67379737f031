#include "base-layout/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "core/env.h"

namespace yoke {
namespace {

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;
using EntryPtr = std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)>;

Status AddEntry(struct archive* zip, const std::filesystem::path& file, const std::string& name) {
  struct stat st;
  if (::lstat(file.c_str(), &st) != 0) return Fail("cannot stat " + file.string());
  EntryPtr entry(archive_entry_new(), archive_entry_free);
  archive_entry_copy_stat(entry.get(), &st);
  archive_entry_set_pathname(entry.get(), name.c_str());
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(file, ec);
    if (ec) return Fail("cannot read link " + file.string() + ": " + ec.message());
    archive_entry_set_symlink(entry.get(), target.c_str());
    archive_entry_set_size(entry.get(), 0);
  } else if (!S_ISREG(st.st_mode)) {
    archive_entry_set_size(entry.get(), 0);
  }
  if (archive_write_header(zip, entry.get()) != ARCHIVE_OK) {
    return Fail("zip header for " + file.string() + ": " + archive_error_string(zip));
  }
  if (S_ISREG(st.st_mode)) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail("cannot open " + file.string());
    char buffer[64 * 1024];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) {
      if (archive_write_data(zip, buffer, static_cast<size_t>(n)) < 0) {
        ::close(fd);
        return Fail("zip data for " + file.string() + ": " + archive_error_string(zip));
      }
    }
    ::close(fd);
  }
  return Ok();
}

ArchivePtr OpenZipForRead(const std::filesystem::path& zip_path, std::string* error) {
  ArchivePtr zip(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(zip.get());
  if (archive_read_open_filename(zip.get(), zip_path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    *error = "cannot open " + zip_path.string() + ": " + archive_error_string(zip.get());
    return ArchivePtr(nullptr, archive_read_free);
  }
  return zip;
}

// Why an entry path may not be unpacked, or empty when it may. Paths come from the archive,
// which may have been made by anyone.
std::string UnsafeEntryPath(std::string_view path) {
  if (path.empty()) return "an empty path";
  if (path.front() == '/') return "an absolute path";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return "a '..' component";
    start = end + 1;
  }
  return {};
}

}  // namespace

Status ZipFolder(const std::filesystem::path& folder, const std::string& top_name,
                 const std::filesystem::path& zip_path) {
  const std::filesystem::path tmp = TempPathFor(zip_path);
  {
    ArchivePtr zip(archive_write_new(), archive_write_free);
    archive_write_set_format_zip(zip.get());
    if (archive_write_open_filename(zip.get(), tmp.c_str()) != ARCHIVE_OK) {
      return Fail("cannot create " + tmp.string() + ": " + archive_error_string(zip.get()));
    }
    YOKE_RETURN_IF_ERROR(AddEntry(zip.get(), folder, top_name + "/"));
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(folder, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::string name = top_name + "/" + it->path().lexically_relative(folder).string();
      if (it->is_directory(ec) && !it->is_symlink(ec)) name += "/";
      if (auto st = AddEntry(zip.get(), it->path(), name); !st) {
        std::filesystem::remove(tmp, ec);
        return st;
      }
    }
    if (ec) return Fail("cannot walk " + folder.string() + ": " + ec.message());
    if (archive_write_close(zip.get()) != ARCHIVE_OK) {
      return Fail("cannot finish " + tmp.string() + ": " + archive_error_string(zip.get()));
    }
  }
  // The zip's bytes reach the disk before its name does: a crash leaves no half archive, and
  // the version folder is removed only after this succeeded.
  std::error_code ec;
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (!synced) {
    std::filesystem::remove(tmp, ec);
    return Fail("cannot fsync " + tmp.string() + ": " + std::strerror(err), ErrorCodeOfErrno(err));
  }
  std::filesystem::rename(tmp, zip_path, ec);
  if (ec) return Fail("cannot rename " + tmp.string() + ": " + ec.message());
  return Ok();
}

StatusOr<std::vector<ArchiveEntry>> ListZip(const std::filesystem::path& zip_path) {
  std::string error;
  ArchivePtr zip = OpenZipForRead(zip_path, &error);
  if (!zip) return Fail(error);
  std::vector<ArchiveEntry> entries;
  struct archive_entry* entry;
  int r;
  while ((r = archive_read_next_header(zip.get(), &entry)) == ARCHIVE_OK) {
    ArchiveEntry e;
    e.path = archive_entry_pathname(entry);
    e.size = static_cast<uint64_t>(archive_entry_size(entry));
    e.is_symlink = archive_entry_filetype(entry) == AE_IFLNK;
    e.is_directory = archive_entry_filetype(entry) == AE_IFDIR;
    if (e.is_symlink && archive_entry_symlink(entry)) e.link_target = archive_entry_symlink(entry);
    entries.push_back(std::move(e));
    archive_read_data_skip(zip.get());
  }
  if (r != ARCHIVE_EOF) {
    return Fail("bad zip " + zip_path.string() + ": " + archive_error_string(zip.get()));
  }
  return entries;
}

StatusOr<std::map<std::string, std::string>> ReadZipFiles(
    const std::filesystem::path& zip_path, const std::function<bool(const std::string&)>& wanted,
    uint64_t max_bytes) {
  std::string error;
  ArchivePtr zip = OpenZipForRead(zip_path, &error);
  if (!zip) return Fail(error);
  std::map<std::string, std::string> files;
  struct archive_entry* entry;
  int r;
  while ((r = archive_read_next_header(zip.get(), &entry)) == ARCHIVE_OK) {
    std::string path = archive_entry_pathname(entry);
    if (archive_entry_filetype(entry) != AE_IFREG || !wanted(path)) {
      archive_read_data_skip(zip.get());
      continue;
    }
    if (archive_entry_size(entry) > static_cast<int64_t>(max_bytes)) {
      return Fail(zip_path.string() + ": " + path + " is larger than " + std::to_string(max_bytes) +
                  " bytes");
    }
    std::string content(static_cast<size_t>(archive_entry_size(entry)), '\0');
    la_ssize_t n = archive_read_data(zip.get(), content.data(), content.size());
    if (n < 0) {
      return Fail("bad zip " + zip_path.string() + ": " + path + ": " +
                  archive_error_string(zip.get()));
    }
    content.resize(static_cast<size_t>(n));
    files.emplace(std::move(path), std::move(content));
  }
  if (r != ARCHIVE_EOF) {
    return Fail("bad zip " + zip_path.string() + ": " + archive_error_string(zip.get()));
  }
  return files;
}

StatusOr<std::vector<ArchiveEntry>> UnzipTo(const std::filesystem::path& zip_path,
                                            const std::filesystem::path& dir,
                                            const UnzipOptions& options) {
  namespace fs = std::filesystem;
  // First pass: every path is checked before a byte is written, so a bad archive leaves `dir`
  // as it was.
  {
    std::string error;
    ArchivePtr zip = OpenZipForRead(zip_path, &error);
    if (!zip) return Fail(error);
    struct archive_entry* entry;
    int r;
    while ((r = archive_read_next_header(zip.get(), &entry)) == ARCHIVE_OK) {
      const char* path = archive_entry_pathname(entry);
      std::string why = UnsafeEntryPath(path ? path : "");
      if (why.empty() && archive_entry_hardlink(entry)) {
        why = UnsafeEntryPath(archive_entry_hardlink(entry));
        if (!why.empty()) why = "a hard link to " + why;
      }
      if (!why.empty()) {
        return Fail(zip_path.string() + ": refusing entry '" + (path ? path : "") + "': " + why);
      }
      archive_read_data_skip(zip.get());
    }
    if (r != ARCHIVE_EOF) {
      return Fail("bad zip " + zip_path.string() + ": " + archive_error_string(zip.get()));
    }
  }

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Fail("cannot create " + dir.string() + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) return Fail(dir.string() + " is not a folder");
  if (!options.into_non_empty && !fs::is_empty(dir, ec)) {
    return Fail(dir.string() + " is not empty (use --force to write into it anyway)");
  }
  // Symlinks in the folder's own path are resolved first: libarchive refuses to write through
  // any link, and only links the archive itself makes should count.
  fs::path root = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec) return Fail("cannot resolve " + dir.string() + ": " + ec.message());

  std::string error;
  ArchivePtr zip = OpenZipForRead(zip_path, &error);
  if (!zip) return Fail(error);
  ArchivePtr disk(archive_write_disk_new(), archive_write_free);
  archive_write_disk_set_options(disk.get(), ARCHIVE_EXTRACT_TIME |
                                                 ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                 ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  std::vector<ArchiveEntry> written;
  struct archive_entry* entry;
  int r;
  while ((r = archive_read_next_header(zip.get(), &entry)) == ARCHIVE_OK) {
    std::string path = archive_entry_pathname(entry);
    if (std::string why = UnsafeEntryPath(path); !why.empty()) {
      return Fail(zip_path.string() + ": refusing entry '" + path + "': " + why);
    }
    ArchiveEntry e;
    e.path = path;
    e.size = static_cast<uint64_t>(archive_entry_size(entry));
    e.is_symlink = archive_entry_filetype(entry) == AE_IFLNK;
    e.is_directory = archive_entry_filetype(entry) == AE_IFDIR;
    if (e.is_symlink && archive_entry_symlink(entry)) e.link_target = archive_entry_symlink(entry);
    archive_entry_set_pathname(entry, (root / path).c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      archive_entry_set_hardlink(entry, (root / link).c_str());
    }
    archive_entry_set_perm(entry, archive_entry_perm(entry) & 0777);
    if (archive_write_header(disk.get(), entry) != ARCHIVE_OK) {
      return Fail("cannot write " + (root / path).string() + ": " +
                  archive_error_string(disk.get()));
    }
    const void* block;
    size_t size;
    la_int64_t offset;
    int d;
    while ((d = archive_read_data_block(zip.get(), &block, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(disk.get(), block, size, offset) != ARCHIVE_OK) {
        return Fail("cannot write " + (root / path).string() + ": " +
                    archive_error_string(disk.get()));
      }
    }
    if (d != ARCHIVE_EOF) {
      return Fail("bad zip " + zip_path.string() + ": " + path + ": " +
                  archive_error_string(zip.get()));
    }
    if (archive_write_finish_entry(disk.get()) != ARCHIVE_OK) {
      return Fail("cannot finish " + (root / path).string() + ": " +
                  archive_error_string(disk.get()));
    }
    written.push_back(std::move(e));
  }
  if (r != ARCHIVE_EOF) {
    return Fail("bad zip " + zip_path.string() + ": " + archive_error_string(zip.get()));
  }
  if (archive_write_close(disk.get()) != ARCHIVE_OK) {
    return Fail("cannot finish writing into " + root.string() + ": " +
                archive_error_string(disk.get()));
  }
  return written;
}

}  // namespace yoke
