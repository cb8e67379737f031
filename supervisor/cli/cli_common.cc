#include "supervisor/cli/cli_common.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <iostream>

#include "core/address.h"
#include "core/config_check.h"
#include "platform/posix_env.h"
#include "platform/process.h"
#include "supervisor/cli/config_loader.h"

namespace yoke {

std::optional<Config> LoadOrReport(const std::string& path) {
  auto config = LoadConfig(path);
  if (!config) {
    std::string text = config.error().message();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::cerr << text << "\n";
    return std::nullopt;
  }
  return *config;
}

std::string OperatorName(const std::string& given) {
  if (!given.empty()) return given;
  for (const char* var : {"SUDO_USER", "USER", "LOGNAME"}) {
    if (const char* v = std::getenv(var); v && *v) return v;
  }
  return "operator";
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

MetaSettings MetaSettingsOf(const Config& config) {
  MetaSettings settings = config.meta();
  if (settings.project().empty()) settings.set_project(config.service());
  if (settings.host().empty()) settings.set_host(HostName());
  return settings;
}

BaseFolder BaseOf(const Config& config) {
  return BaseFolder(config.base_dir(), IdentifierOf(config), PosixEnv());
}

std::filesystem::path TokenPath(const Config& config) {
  if (!config.admin_token_file().empty()) return config.admin_token_file();
  return base_paths::AdminToken(config.base_dir());
}

std::string InstanceState(const InstanceRecord& record) {
  auto ticks = ProcessStartTicks(record.pid());
  if (record.pid() > 0 && record.stopped_at().empty() && ticks && *ticks == record.start_ticks()) {
    return "alive";
  }
  if (!record.exit().empty()) return record.exit();
  return record.stopped_at().empty() ? "gone" : "stopped";
}

std::string AdminDialHost(const std::string& listen_host) {
  if (listen_host == "0.0.0.0" || listen_host.empty()) return "127.0.0.1";
  if (listen_host == "::") return "::1";
  if (listen_host == "localhost") return "127.0.0.1";
  return listen_host;
}

AdminCall CallAdmin(const std::string& admin_listen, std::string_view method,
                    const std::string& target, const std::string& bearer, const std::string& body,
                    std::chrono::milliseconds timeout) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  AdminCall call;
  auto listen = ParseHostPort(admin_listen);
  if (!listen) {
    call.error = "admin_listen " + listen.error().message();
    return call;
  }
  const std::string host = AdminDialHost(listen->host);
  call.where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
               std::to_string(listen->port);
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    call.error = "bad admin address " + host;
    return call;
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "yoke-cli");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();

  // One coroutine on a private io_context; the stream's deadline bounds connect, write and
  // read together.
  asio::io_context io;
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  auto exchange = [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    auto [cec] =
        co_await stream.async_connect(asio::ip::tcp::endpoint(address, listen->port), kTuple);
    if (cec) {
      call.outcome = AdminCall::Outcome::kUnreachable;
      call.error = cec == beast::error::timeout ? "no answer to connect" : cec.message();
      co_return;
    }
    call.outcome = AdminCall::Outcome::kNoAnswer;
    auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
    if (wec) {
      call.error = wec.message();
      co_return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (rec) {
      call.error =
          rec == beast::error::timeout ? "timed out waiting for the answer" : rec.message();
      co_return;
    }
    call.outcome = AdminCall::Outcome::kAnswered;
    call.status = parser.get().result_int();
    call.body = std::move(parser.get().body());
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  };
  asio::co_spawn(io, exchange(), asio::detached);
  io.run();
  return call;
}

}  // namespace yoke
