#include "meta/artifact_fetch.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string_view>

#include "platform/http_client.h"

namespace yoke::meta {
namespace {

namespace fs = std::filesystem;

// Writes what arrives to a file, hashing and counting it.
class Sink {
 public:
  explicit Sink(const fs::path& to) : out_(to, std::ios::binary | std::ios::trunc) {}
  bool ok() const { return static_cast<bool>(out_); }
  void Write(const char* data, size_t n) {
    out_.write(data, static_cast<std::streamsize>(n));
    hash_.Update(data, n);
    size_ += n;
  }
  uint64_t size() const { return size_; }
  StatusOr<FileDigest> Finish(const fs::path& to) {
    out_.flush();
    if (!out_) return Fail("cannot write " + to.string() + ": " + std::strerror(errno));
    out_.close();
    return FileDigest{hash_.HexDigest(), size_};
  }

 private:
  std::ofstream out_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

StatusOr<FileDigest> CopyLocal(const fs::path& from, const fs::path& to, uint64_t max_bytes) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return Fail("cannot read artifact " + from.string() + ": " + std::strerror(errno));
  Sink sink(to);
  if (!sink.ok()) return Fail("cannot write " + to.string() + ": " + std::strerror(errno));
  std::string buffer(1 << 16, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() <= 0) break;
    sink.Write(buffer.data(), static_cast<size_t>(in.gcount()));
    if (sink.size() > max_bytes)
      return Fail("artifact " + from.string() + " is larger than its release says");
  }
  if (in.bad()) return Fail("cannot read artifact " + from.string());
  return sink.Finish(to);
}

struct HttpTarget {
  std::string host;
  uint16_t port = 80;
  std::string path;
};

StatusOr<HttpTarget> ParseHttpUri(const std::string& uri) {
  std::string rest = uri.substr(7);  // after "http://"
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpTarget t{authority, 80, slash == std::string::npos ? "/" : rest.substr(slash)};
  if (authority.empty()) return Fail("no host in " + uri);
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

// One GET through the HTTP client, the body written and hashed as it arrives; only a 200's body
// reaches the file.
Status Download(const HttpTarget& target, Sink* sink, uint64_t max_bytes,
                std::chrono::seconds timeout) {
  HttpRequest request;
  request.host = target.host;
  request.port = target.port;
  request.target = target.path;
  request.headers = {{"Host", target.host}, {"User-Agent", "yoke"}};
  HttpCallOptions options;
  options.timeout = timeout;
  options.max_body_bytes = max_bytes;
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

StatusOr<FileDigest> FetchArtifact(const std::string& uri, const fs::path& to, uint64_t max_bytes,
                                   std::chrono::seconds timeout) {
  if (uri.starts_with("file://")) return CopyLocal(uri.substr(7), to, max_bytes);
  if (uri.starts_with("https://")) {
    return Fail("cannot fetch " + uri + ": https is not supported; serve it over http or a path");
  }
  if (!uri.starts_with("http://")) {
    if (uri.find("://") != std::string::npos)
      return Fail("cannot fetch " + uri + ": unknown scheme");
    return CopyLocal(uri, to, max_bytes);
  }
  YOKE_ASSIGN_OR_RETURN(HttpTarget target, ParseHttpUri(uri));
  Sink sink(to);
  if (!sink.ok()) return Fail("cannot write " + to.string() + ": " + std::strerror(errno));
  if (Status fetched = Download(target, &sink, max_bytes, timeout); !fetched)
    return Fail("cannot fetch " + uri + ": " + fetched.error().message());
  return sink.Finish(to);
}

}  // namespace yoke::meta
