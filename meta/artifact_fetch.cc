#include "meta/artifact_fetch.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace yoke {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
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
  std::string host, port, path;
};

StatusOr<HttpTarget> ParseHttpUri(const std::string& uri) {
  std::string rest = uri.substr(7);  // after "http://"
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpTarget t{authority, "80", slash == std::string::npos ? "/" : rest.substr(slash)};
  if (authority.empty()) return Fail("no host in " + uri);
  if (size_t colon = authority.rfind(':'); colon != std::string::npos && authority.back() != ']') {
    t.host = authority.substr(0, colon);
    t.port = authority.substr(colon + 1);
  }
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  return t;
}

asio::awaitable<void> Download(HttpTarget target, Sink* sink, uint64_t max_bytes,
                               std::string* error) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  beast::tcp_stream stream(executor);
  boost::system::error_code ec;
  auto endpoints = co_await resolver.async_resolve(target.host, target.port,
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    *error = "cannot resolve " + target.host + ": " + ec.message();
    co_return;
  }
  auto connected =
      co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  (void)connected;
  if (ec) {
    *error = "cannot connect to " + target.host + ":" + target.port + ": " + ec.message();
    co_return;
  }
  http::request<http::empty_body> request(http::verb::get, target.path, 11);
  request.set(http::field::host, target.host);
  request.set(http::field::user_agent, "yoke");
  auto written =
      co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  (void)written;
  if (ec) {
    *error = "cannot send the request: " + ec.message();
    co_return;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(max_bytes);
  auto header_read = co_await http::async_read_header(
      stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  (void)header_read;
  if (ec) {
    *error = ec == http::error::body_limit ? "the artifact is larger than its release says"
                                           : "no answer: " + ec.message();
    co_return;
  }
  if (parser.get().result_int() != 200) {
    *error = "the server answered " + std::to_string(parser.get().result_int());
    co_return;
  }
  char chunk[1 << 16];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    auto got = co_await http::async_read(stream, buffer, parser,
                                         asio::redirect_error(asio::use_awaitable, ec));
    (void)got;
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      *error = ec == http::error::body_limit ? "the artifact is larger than its release says"
                                             : "the download broke off: " + ec.message();
      co_return;
    }
    sink->Write(chunk, sizeof chunk - parser.get().body().size);
  }
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
  std::string error;
  bool done = false;
  asio::io_context io;
  asio::co_spawn(io, Download(target, &sink, max_bytes, &error),
                 [&done](std::exception_ptr) { done = true; });
  io.run_for(timeout);
  if (!done)
    return Fail("cannot fetch " + uri + ": no complete answer within " +
                std::to_string(timeout.count()) + " s");
  if (!error.empty()) return Fail("cannot fetch " + uri + ": " + error);
  return sink.Finish(to);
}

}  // namespace yoke
