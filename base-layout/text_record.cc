#include "base-layout/text_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/record_text.h"

namespace yoke {

Status WriteFileAtomic(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail("cannot write " + tmp.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Fail("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Fail("cannot rename " + tmp.string() + " to " + path.string() + ": " +
                std::strerror(errno));
  }
  return Ok();
}

StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail("cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

Status WriteTextRecord(const std::filesystem::path& path, const google::protobuf::Message& record) {
  YOKE_ASSIGN_OR_RETURN(std::string text, PrintTextRecord(record));
  return WriteFileAtomic(path, text);
}

Status ReadTextRecord(const std::filesystem::path& path, google::protobuf::Message* record) {
  YOKE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseTextRecord(path.string(), text, record);
}

}  // namespace yoke
