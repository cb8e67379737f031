#include "meta/artifact_fetch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "platform/http_client.h"

namespace yoke::meta {
namespace {

namespace fs = std::filesystem;

// Writes what arrives to a file, hashing and counting it; Finish fsyncs it, so the artifact is
// on the disk before it is renamed into the base.
class Sink {
 public:
  explicit Sink(const fs::path& to)
      : fd_(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)),
        error_(fd_ < 0 ? errno : 0) {}
  ~Sink() {
    if (fd_ >= 0) ::close(fd_);
  }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  bool ok() const { return error_ == 0; }
  void Write(const char* data, size_t n) {
    hash_.Update(data, n);
    size_ += n;
    while (ok() && n > 0) {
      ssize_t written = ::write(fd_, data, n);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) {
        error_ = errno;
        return;
      }
      data += written;
      n -= static_cast<size_t>(written);
    }
  }
  uint64_t size() const { return size_; }
  StatusOr<FileDigest> Finish(const fs::path& to) {
    if (ok() && ::fsync(fd_) != 0) error_ = errno;
    if (!ok()) return Fail("cannot write " + to.string() + ": " + std::strerror(error_));
    return FileDigest{hash_.HexDigest(), size_};
  }

 private:
  int fd_;
  int error_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

// A local artifact: a regular file only (a FIFO, a device or a folder is refused at once, never
// read), within `timeout` like a download.
StatusOr<FileDigest> CopyLocal(const fs::path& from, const fs::path& to, uint64_t max_bytes,
                               std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  int fd = ::open(from.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Fail("cannot read artifact " + from.string() + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Invalid("artifact " + from.string() + " is not a regular file");
  }
  Sink sink(to);
  if (!sink.ok()) {
    ::close(fd);
    return Fail("cannot write " + to.string() + ": " + std::strerror(errno));
  }
  std::string buffer(1 << 16, '\0');
  std::string problem;
  while (problem.empty()) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      problem = "cannot read artifact " + from.string() + ": " + std::strerror(errno);
    } else if (n == 0) {
      break;
    } else {
      sink.Write(buffer.data(), static_cast<size_t>(n));
      if (sink.size() > max_bytes) {
        problem = "artifact " + from.string() + " is larger than its release says";
      } else if (std::chrono::steady_clock::now() > deadline) {
        problem = "artifact " + from.string() + " was not copied within " +
                  std::to_string(timeout.count()) + " s";
      }
    }
  }
  ::close(fd);
  if (!problem.empty()) return Fail(problem);
  return sink.Finish(to);
}

struct HttpTarget {
  std::string host;
  uint16_t port = 80;
  std::string path;
  bool https = false;
};

StatusOr<HttpTarget> ParseHttpUri(const std::string& uri) {
  const size_t scheme_end = uri.find("://") + 3;
  const bool https = uri.starts_with("https://");
  std::string rest = uri.substr(scheme_end);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpTarget t{authority, static_cast<uint16_t>(https ? 443 : 80),
               slash == std::string::npos ? "/" : rest.substr(slash), https};
  if (authority.empty()) return Fail("no host in " + uri);
  if (authority.find('@') != std::string::npos) {
    return Fail("credentials in the URI are not accepted (" + uri.substr(0, scheme_end) +
                "...): use meta.artifact_token_file or artifact_basic_auth_file");
  }
  if (size_t colon = authority.rfind(':'); colon != std::string::npos && authority.back() != ']') {
    t.host = authority.substr(0, colon);
    const std::string port = authority.substr(colon + 1);
    unsigned long number = 0;
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos ||
        (number = std::stoul(port)) == 0 || number > 65535) {
      return Fail("bad port in " + uri);
    }
    t.port = static_cast<uint16_t>(number);
  }
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  return t;
}

// A credential file: regular, owner-only (no group or other bits), its text without trailing
// whitespace, not empty.
StatusOr<std::string> ReadSecretFile(const std::string& path, const char* what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Fail(std::string(what) + " " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Invalid(std::string(what) + " " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Invalid(std::string(what) + " " + path + " has mode " + mode +
                   ": others may read it; chmod 600 " + path);
  }
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0 && text.size() < 65536;) {
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return Invalid(std::string(what) + " " + path + " is empty");
  return text;
}

// One GET through the HTTP client, the body written and hashed as it arrives; only a 200's body
// reaches the file.
Status Download(const HttpTarget& target, Sink* sink, const ArtifactFetchOptions& fetch) {
  HttpRequest request;
  request.scheme = target.https ? "https" : "http";
  request.host = target.host;
  request.port = target.port;
  request.target = target.path;
  request.headers = {{"User-Agent", "yoke"}};
  HttpCallOptions options;
  options.timeout = fetch.timeout;
  options.max_body_bytes = fetch.max_bytes;
  options.ca_file = fetch.ca_file;
  options.max_redirects = fetch.max_redirects;
  options.progress = fetch.progress;
  if (!fetch.token_file.empty() && !fetch.basic_auth_file.empty()) {
    return Invalid("artifact_token_file and artifact_basic_auth_file are both set: use one");
  }
  if (!fetch.token_file.empty()) {
    YOKE_ASSIGN_OR_RETURN(std::string token, ReadSecretFile(fetch.token_file, "token file"));
    request.headers.emplace_back("Authorization", "Bearer " + token);
  }
  if (!fetch.basic_auth_file.empty()) {
    YOKE_ASSIGN_OR_RETURN(options.user_password,
                          ReadSecretFile(fetch.basic_auth_file, "basic auth file"));
    if (options.user_password.find(':') == std::string::npos) {
      return Invalid("basic auth file " + fetch.basic_auth_file + " must hold user:password");
    }
  }
  options.body_sink = [sink](const HttpResponse& head, std::string_view chunk) -> Status {
    if (head.status != 200) return Fail("the server answered " + std::to_string(head.status));
    sink->Write(chunk.data(), chunk.size());
    return Ok();
  };
  HttpFailure failure = HttpFailure::kNone;
  auto answer = SendHttpRequest(request, options, &failure);
  if (!answer) {
    if (failure == HttpFailure::kBodyTooLarge)
      return Fail("the artifact is larger than its release says");
    return Fail(answer.error().message());
  }
  if (answer->status != 200) return Fail("the server answered " + std::to_string(answer->status));
  return Ok();
}

}  // namespace

StatusOr<FileDigest> FetchArtifact(const std::string& uri, const fs::path& to,
                                   const ArtifactFetchOptions& options) {
  if (uri.starts_with("file://")) {
    return CopyLocal(uri.substr(7), to, options.max_bytes, options.timeout);
  }
  if (!uri.starts_with("http://") && !uri.starts_with("https://")) {
    if (uri.find("://") != std::string::npos)
      return Fail("cannot fetch " + uri + ": unknown scheme");
    return CopyLocal(uri, to, options.max_bytes, options.timeout);
  }
  YOKE_ASSIGN_OR_RETURN(HttpTarget target, ParseHttpUri(uri));
  Sink sink(to);
  if (!sink.ok()) return Fail("cannot write " + to.string() + ": " + std::strerror(errno));
  if (Status fetched = Download(target, &sink, options); !fetched)
    return Fail("cannot fetch " + uri + ": " + fetched.error().message());
  return sink.Finish(to);
}

StatusOr<FileDigest> FetchArtifact(const std::string& uri, const fs::path& to, uint64_t max_bytes,
                                   std::chrono::seconds timeout) {
  ArtifactFetchOptions options;
  options.max_bytes = max_bytes;
  options.timeout = timeout;
  return FetchArtifact(uri, to, options);
}

}  // namespace yoke::meta
