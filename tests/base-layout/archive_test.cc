#include "base-layout/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

// Writes a zip by hand, entry by entry, the way a hostile or broken tool might.
struct RawEntry {
  std::string path;
  std::string content;
  std::string symlink;  // non-empty: a symlink to this
};
void WriteRawZip(const fs::path& zip_path, const std::vector<RawEntry>& entries) {
  struct archive* zip = archive_write_new();
  archive_write_set_format_zip(zip);
  ASSERT_EQ(archive_write_open_filename(zip, zip_path.c_str()), ARCHIVE_OK);
  for (const RawEntry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    if (!e.symlink.empty()) {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_symlink(entry, e.symlink.c_str());
      archive_entry_set_perm(entry, 0777);
      archive_entry_set_size(entry, 0);
    } else {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_perm(entry, 0644);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
    }
    ASSERT_EQ(archive_write_header(zip, entry), ARCHIVE_OK) << archive_error_string(zip);
    if (!e.content.empty()) archive_write_data(zip, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(zip);
  archive_write_free(zip);
}

class ArchiveTest : public ::testing::Test {
 protected:
  // A version folder as the supervisor leaves it: artifact, an instance with its files and
  // its artifact link.
  fs::path ZipAVersion() {
    fs::path version = dir_.path() / "versions/1.0.0";
    fs::path instance = version / "instances/0001-running";
    fs::create_directories(instance / "logs/json");
    WriteAll(version / "hello-1.0.0", "#!/bin/sh\necho hi\n");
    fs::permissions(version / "hello-1.0.0", fs::perms::owner_all | fs::perms::group_read);
    WriteAll(instance / "stdout", "listening\n");
    WriteAll(instance / "logs/json/app.log", "{\"level\":\"info\"}\n");
    WriteAll(instance / "instance.txtpb", "version: \"1.0.0\"\nrole: \"running\"\n");
    fs::create_symlink("../../hello-1.0.0", instance / "artifact");
    fs::path zip = dir_.path() / "hello-1.0.0.zip";
    EXPECT_TRUE(ZipFolder(version, "1.0.0", zip));
    return zip;
  }

  TempDir dir_;
};

// A version archive unpacks whole under the target folder: contents, exec bit and the artifact
// link, which still resolves inside the unpacked version folder.
TEST_F(ArchiveTest, UnzipRestoresAVersionFolder) {
  fs::path zip = ZipAVersion();
  fs::path out = dir_.path() / "out";
  auto written = UnzipTo(zip, out);
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(ReadAll(out / "1.0.0/hello-1.0.0"), "#!/bin/sh\necho hi\n");
  EXPECT_TRUE((fs::status(out / "1.0.0/hello-1.0.0").permissions() & fs::perms::owner_exec) !=
              fs::perms::none);
  EXPECT_EQ(ReadAll(out / "1.0.0/instances/0001-running/logs/json/app.log"),
            "{\"level\":\"info\"}\n");
  fs::path link = out / "1.0.0/instances/0001-running/artifact";
  ASSERT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), "../../hello-1.0.0");
  EXPECT_EQ(ReadAll(link), "#!/bin/sh\necho hi\n");
  bool saw_link = false;
  for (const ArchiveEntry& e : *written) {
    if (e.is_symlink && e.path.ends_with("artifact")) {
      saw_link = true;
      EXPECT_EQ(e.link_target, "../../hello-1.0.0");
    }
  }
  EXPECT_TRUE(saw_link);
  EXPECT_GE(written->size(), 8u);
}

// ReadZipFiles returns the files asked for, and nothing else.
TEST_F(ArchiveTest, ReadsChosenFilesOutOfAZip) {
  fs::path zip = ZipAVersion();
  auto files = ReadZipFiles(zip, [](const std::string& p) { return p.ends_with(".txtpb"); });
  ASSERT_TRUE(files) << files.error().message();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ(files->at("1.0.0/instances/0001-running/instance.txtpb"),
            "version: \"1.0.0\"\nrole: \"running\"\n");
  auto too_big = ReadZipFiles(
      zip, [](const std::string& p) { return p.ends_with("stdout"); }, 4);
  EXPECT_FALSE(too_big);
}

// An entry named ../evil is refused, and nothing at all is written: not the entries before it,
// not the file it names.
TEST_F(ArchiveTest, RefusesAnEntryThatClimbsOut) {
  fs::path zip = dir_.path() / "evil.zip";
  WriteRawZip(zip, {{"ok.txt", "fine\n", ""}, {"../evil", "gotcha\n", ""}});
  fs::path out = dir_.path() / "out";
  auto written = UnzipTo(zip, out);
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message().find("refusing entry '../evil': a '..' component"),
            std::string::npos)
      << written.error().message();
  EXPECT_FALSE(fs::exists(dir_.path() / "evil"));
  EXPECT_FALSE(fs::exists(out / "ok.txt"));

  WriteRawZip(zip, {{"a/../../evil", "gotcha\n", ""}});
  EXPECT_FALSE(UnzipTo(zip, out));
  EXPECT_FALSE(fs::exists(dir_.path() / "evil"));
}

// An absolute entry path is refused, whatever it names.
TEST_F(ArchiveTest, RefusesAnAbsoluteEntry) {
  fs::path zip = dir_.path() / "abs.zip";
  fs::path target = dir_.path() / "absolute-target";
  WriteRawZip(zip, {{target.string(), "gotcha\n", ""}});
  auto written = UnzipTo(zip, dir_.path() / "out");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message().find("an absolute path"), std::string::npos)
      << written.error().message();
  EXPECT_FALSE(fs::exists(target));
}

// A link the archive makes cannot carry a later entry out of the folder.
TEST_F(ArchiveTest, DoesNotWriteThroughALinkFromTheArchive) {
  fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside);
  fs::path zip = dir_.path() / "link.zip";
  WriteRawZip(zip, {{"escape", "", outside.string()}, {"escape/planted", "gotcha\n", ""}});
  auto written = UnzipTo(zip, dir_.path() / "out");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message().find("escape/planted"), std::string::npos)
      << written.error().message();
  EXPECT_FALSE(fs::exists(outside / "planted"));
}

// A folder that already holds something is refused unless the caller says so.
TEST_F(ArchiveTest, RefusesANonEmptyFolderUnlessAllowed) {
  fs::path zip = ZipAVersion();
  fs::path out = dir_.path() / "out";
  fs::create_directories(out);
  WriteAll(out / "mine.txt", "keep\n");
  auto refused = UnzipTo(zip, out);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("is not empty"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "1.0.0"));
  auto forced = UnzipTo(zip, out, {.into_non_empty = true});
  ASSERT_TRUE(forced) << forced.error().message();
  EXPECT_EQ(ReadAll(out / "mine.txt"), "keep\n");
  EXPECT_TRUE(fs::exists(out / "1.0.0/hello-1.0.0"));
  // Unpacking twice over the same files replaces them, links included.
  ASSERT_TRUE(UnzipTo(zip, out, {.into_non_empty = true}));
}

}  // namespace
}  // namespace yoke
