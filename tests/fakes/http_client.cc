#include "tests/fakes/http_client.h"

#include <sys/socket.h>

#include <boost/asio/write.hpp>

namespace yoke::testing {

HttpClient::HttpClient(uint16_t port) {
  boost::system::error_code ec;
  socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  connected_ = !ec;
}

void HttpClient::SetTimeout(std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void HttpClient::SendRaw(const std::string& bytes) {
  boost::system::error_code ec;
  SetTimeout(std::chrono::seconds(5));
  boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
}

std::optional<Response> HttpClient::Read(std::chrono::milliseconds timeout, bool head) {
  SetTimeout(timeout);
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (head) parser.skip(true);
  boost::system::error_code ec;
  http::read(socket_, buffer_, parser, ec);
  if (ec) return std::nullopt;
  return parser.release();
}

std::optional<Response> HttpClient::Request(http::verb method, const std::string& target,
                                            const std::string& body,
                                            const std::map<std::string, std::string>& headers,
                                            std::chrono::milliseconds timeout) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == http::verb::post) req.prepare_payload();
  boost::system::error_code ec;
  SetTimeout(timeout);
  http::write(socket_, req, ec);
  if (ec) return std::nullopt;
  return Read(timeout, method == http::verb::head);
}

bool HttpClient::ClosedByPeer(std::chrono::milliseconds timeout) {
  SetTimeout(timeout);
  char byte;
  boost::system::error_code ec;
  while (true) {
    size_t n = socket_.read_some(boost::asio::buffer(&byte, 1), ec);
    if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) return true;
    if (ec) return false;  // timed out
    if (n == 0) return true;
  }
}

}  // namespace yoke::testing
