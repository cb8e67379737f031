// A blocking HTTP/1.1 client for tests, on Beast: sends whole requests or raw bytes, reads one
// response at a time, and says when the server closed the connection. Every read has a timeout.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace yoke::testing {

namespace http = boost::beast::http;
using Response = http::response<http::string_body>;

class HttpClient {
 public:
  explicit HttpClient(uint16_t port);
  bool connected() const { return connected_; }

  void SendRaw(const std::string& bytes);
  // Reads one response; nullopt when the connection closed, failed or timed out.
  std::optional<Response> Read(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                               bool head = false);
  std::optional<Response> Request(http::verb method, const std::string& target,
                                  const std::string& body = "",
                                  const std::map<std::string, std::string>& headers = {},
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the server closes the connection within `timeout`.
  bool ClosedByPeer(std::chrono::milliseconds timeout);

 private:
  void SetTimeout(std::chrono::milliseconds timeout);
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_{io_};
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

}  // namespace yoke::testing
