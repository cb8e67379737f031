#include "base-layout/text_record.h"

#include <fcntl.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace yoke {
namespace {

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      first_ = std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

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
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(record, &text)) {
    return Fail("cannot print record for " + path.string());
  }
  return WriteFileAtomic(path, text);
}

Status ReadTextRecord(const std::filesystem::path& path, google::protobuf::Message* record) {
  YOKE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseTextRecord(text, path.string(), record);
}

Status ParseTextRecord(const std::string& text, const std::string& name,
                       google::protobuf::Message* record) {
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, record)) {
    return Fail(name + ":" + errors.first());
  }
  return Ok();
}

}  // namespace yoke
