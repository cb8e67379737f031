#include "base-layout/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <system_error>

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

}  // namespace

Status ZipFolder(const std::filesystem::path& folder, const std::string& top_name,
                 const std::filesystem::path& zip_path) {
  std::filesystem::path tmp = zip_path;
  tmp += ".tmp";
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
  std::error_code ec;
  std::filesystem::rename(tmp, zip_path, ec);
  if (ec) return Fail("cannot rename " + tmp.string() + ": " + ec.message());
  return Ok();
}

StatusOr<std::vector<ArchiveEntry>> ListZip(const std::filesystem::path& zip_path) {
  ArchivePtr zip(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(zip.get());
  if (archive_read_open_filename(zip.get(), zip_path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    return Fail("cannot open " + zip_path.string() + ": " + archive_error_string(zip.get()));
  }
  std::vector<ArchiveEntry> entries;
  struct archive_entry* entry;
  int r;
  while ((r = archive_read_next_header(zip.get(), &entry)) == ARCHIVE_OK) {
    ArchiveEntry e;
    e.path = archive_entry_pathname(entry);
    e.size = static_cast<uint64_t>(archive_entry_size(entry));
    e.is_symlink = archive_entry_filetype(entry) == AE_IFLNK;
    e.is_directory = archive_entry_filetype(entry) == AE_IFDIR;
    entries.push_back(std::move(e));
    archive_read_data_skip(zip.get());
  }
  if (r != ARCHIVE_EOF) {
    return Fail("bad zip " + zip_path.string() + ": " + archive_error_string(zip.get()));
  }
  return entries;
}

}  // namespace yoke
