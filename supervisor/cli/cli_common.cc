#include "supervisor/cli/cli_common.h"

#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cstdlib>
#include <iostream>

#include "core/address.h"
#include "core/config_check.h"
#include "platform/http_client.h"
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
  AdminCall call;
  auto listen = ParseHostPort(admin_listen);
  if (!listen) {
    call.error = "admin_listen " + listen.error().message();
    return call;
  }
  const std::string host = AdminDialHost(listen->host);
  call.where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
               std::to_string(listen->port);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) {
    call.error = "bad admin address " + host;
    return call;
  }
  HttpRequest request;
  request.method = std::string(method);
  request.host = host;
  request.port = listen->port;
  request.target = target;
  request.headers = {{"Host", host}, {"User-Agent", "yoke-cli"}};
  if (!bearer.empty()) request.headers.emplace_back("Authorization", "Bearer " + bearer);
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = body;
  }
  HttpCallOptions options;
  options.timeout = timeout;
  options.max_body_bytes = 16 * 1024 * 1024;
  HttpFailure failure = HttpFailure::kNone;
  auto answer = SendHttpRequest(request, options, &failure);
  if (!answer) {
    call.outcome = failure == HttpFailure::kCannotConnect ? AdminCall::Outcome::kUnreachable
                                                          : AdminCall::Outcome::kNoAnswer;
    call.error = answer.error().message();
    return call;
  }
  call.outcome = AdminCall::Outcome::kAnswered;
  call.status = answer->status;
  call.body = std::move(answer->body);
  return call;
}

}  // namespace yoke
