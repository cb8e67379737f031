#include "supervisor/admin/admin_api.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cstring>
#include <thread>

#include "base-layout/paths.h"
#include "meta/digest.h"
#include "supervisor/admin/status_page.h"

namespace yoke {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

namespace {

// Decodes %XX escapes (the page links with encodeURIComponent); nothing on a bad escape.
std::optional<std::string> PercentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int high = hex(text[i + 1]);
    int low = hex(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

bool AdminHostAllowed(std::string_view host, std::string_view listen_host,
                      const std::vector<std::string>& allowed) {
  // Drop the port: "name:port", "[v6]:port", "[v6]".
  std::string_view name = host;
  if (name.starts_with('[')) {
    name =
        name.substr(0, name.find(']') == std::string_view::npos ? name.size() : name.find(']') + 1);
  } else if (auto colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  if (name.empty()) return false;
  auto same = [&](std::string_view other) { return beast::iequals(name, other); };
  if (same(listen_host) || same("localhost") || same("[::1]") || same("::1")) return true;
  // 127.0.0.0/8, written as a dotted quad.
  boost::system::error_code ec;
  auto address = asio::ip::make_address_v4(std::string(name), ec);
  if (!ec && address.is_loopback()) return true;
  for (const std::string& a : allowed) {
    if (same(a)) return true;
  }
  return false;
}

bool AdminChecksHost(const AdminHandlers& handlers, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return !handlers.webhook_only && path != "/healthz" && path != "/readyz";
}

bool WebhookIsForBranch(std::string_view payload, std::string_view branch) {
  if (branch.empty()) return true;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(payload, ec);
  const boost::json::object* fields = ec ? nullptr : parsed.if_object();
  if (!fields) return true;
  auto ref = fields->find("ref");
  if (ref == fields->end() || !ref->value().is_string()) return true;
  std::string_view name = ref->value().get_string();
  constexpr std::string_view kHeads = "refs/heads/";
  if (name.starts_with(kHeads)) name.remove_prefix(kHeads.size());
  return name == branch;
}

AdminResponse HandleAdminRequest(const AdminHandlers& handlers, std::string_view method,
                                 std::string_view target, std::string_view authorization,
                                 std::string_view body, std::string_view signature) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz" || path == "/readyz") {
    if (method != "GET" && method != "HEAD") return {405, "text/plain", "use GET\n"};
    const auto& check = path == "/healthz" ? handlers.alive : handlers.ready;
    if (!check) {
      if (path == "/healthz") return {200, "text/plain", "ok\n"};
      return {404, "text/plain", "not offered here\n"};
    }
    if (auto why = check()) return {503, "text/plain", *why + "\n"};
    return {200, "text/plain", "ok\n"};
  }
  if (handlers.webhook_only && path != "/webhook") {
    return {404, "text/plain", "this listener serves only /webhook, /healthz and /readyz\n"};
  }
  if (path == "/webhook") {
    if (!handlers.webhook) return {404, "text/plain", "no webhook: set meta.webhook_secret_file\n"};
    if (method != "POST") return {405, "text/plain", "use POST\n"};
    // GitHub's form: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>.
    const std::string expected = "sha256=" + meta::HmacSha256Hex(handlers.webhook_secret, body);
    if (handlers.webhook_secret.empty() || !meta::ConstantTimeEquals(signature, expected)) {
      spdlog::warn("admin API: webhook with a missing or wrong X-Hub-Signature-256 refused");
      return {401, "text/plain", "a valid X-Hub-Signature-256 is required\n"};
    }
    if (!WebhookIsForBranch(body, handlers.webhook_branch)) {
      return {202, "text/plain",
              "ignored: not the followed branch " + handlers.webhook_branch + "\n"};
    }
    handlers.webhook();
    return {202, "text/plain", "fetching meta\n"};
  }
  if (path == "/promote" || path == "/reject" || path == "/pin" || path == "/unpin" ||
      path == "/rollback") {
    if (!handlers.verdict) return {404, "text/plain", "not offered here\n"};
    if (method != "POST") return {405, "text/plain", "use POST\n"};
    constexpr std::string_view kBearer = "Bearer ";
    if (!authorization.starts_with(kBearer) || handlers.token.empty() ||
        !meta::ConstantTimeEquals(authorization.substr(kBearer.size()), handlers.token)) {
      return {401, "text/plain", "a valid admin token is required (Authorization: Bearer ...)\n"};
    }
    boost::system::error_code ec;
    auto parsed = boost::json::parse(body, ec);
    const boost::json::object* fields = ec ? nullptr : parsed.if_object();
    auto text = [&](const char* key) -> std::string {
      if (!fields) return {};
      auto it = fields->find(key);
      return it != fields->end() && it->value().is_string() ? std::string(it->value().get_string())
                                                            : std::string();
    };
    std::string reason = text("reason");
    std::string author = text("author");
    if (reason.empty()) return {400, "text/plain", "a reason is required: {\"reason\": \"...\"}\n"};
    if (author.empty()) author = "operator";
    auto action = ParseManualAction(path.substr(1));  // one of the paths above: always parses
    if (!action) return {404, "text/plain", action.error().message() + "\n"};
    if (*action == ManualAction::kRollback && fields && fields->contains("now") &&
        fields->at("now").is_bool() && fields->at("now").as_bool()) {
      action = ManualAction::kRollbackNow;
    }
    return handlers.verdict(*action, reason, author, text("version"));
  }
  if (path == "/") {
    if (method != "GET" && method != "HEAD") return {405, "text/plain", "use GET\n"};
    return {200, "text/html; charset=utf-8", std::string(StatusPageHtml())};
  }
  if (path == "/status/history") {
    if (!handlers.history_json) return {404, "text/plain", "not offered here\n"};
    if (method != "GET" && method != "HEAD") return {405, "text/plain", "use GET\n"};
    return {200, "application/json", handlers.history_json()};
  }
  if (path == "/decisions") {
    if (!handlers.decisions_json) return {404, "text/plain", "not offered here\n"};
    if (method != "GET" && method != "HEAD") return {405, "text/plain", "use GET\n"};
    size_t limit = 100;
    std::string_view query =
        target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?') + 1);
    if (query.starts_with("limit=")) {
      size_t value = 0;
      auto digits = query.substr(6);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (ec != std::errc() || end != digits.data() + digits.size() || value == 0) {
        return {400, "text/plain", "limit must be a number from 1 to 1000\n"};
      }
      limit = std::min<size_t>(value, 1000);
    }
    return {200, "application/json", handlers.decisions_json(limit)};
  }
  constexpr std::string_view kDecisions = "/decisions/";
  if (path.starts_with(kDecisions)) {
    if (!handlers.decision_text) return {404, "text/plain", "not offered here\n"};
    if (method != "GET" && method != "HEAD") return {405, "text/plain", "use GET\n"};
    // Decoded before the check, so an escaped "/" or ".." is refused like a plain one.
    auto id = PercentDecode(path.substr(kDecisions.size()));
    if (!id || !base_paths::IsDecisionId(*id)) return {400, "text/plain", "not a decision id\n"};
    auto text = handlers.decision_text(*id);
    if (!text) return {404, "text/plain", "no decision " + *id + "\n"};
    return {200, "text/plain; charset=utf-8", std::move(*text)};
  }
  if (path == "/status" || path == "/metrics") {
    if (method != "GET" && method != "HEAD") return {405, "text/plain", "use GET\n"};
    if (path == "/status") return {200, "application/json", handlers.status_json()};
    return {200, "text/plain; version=0.0.4", handlers.metrics_text()};
  }
  return {404, "text/plain", "not found: try /, /status or /metrics\n"};
}

struct AdminServer::Impl {
  AdminHandlers handlers;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  uint16_t port = 0;
  std::string listen_host;
  std::atomic<uint64_t> accept_failures{0};

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(1024 * 1024);  // webhook payloads
      stream.expires_after(std::chrono::seconds(10));
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec) break;
      const auto& req = parser.get();
      AdminResponse answer =
          !AdminChecksHost(handlers, req.target()) ||
                  (req.count(http::field::host) == 1 &&
                   AdminHostAllowed(req[http::field::host], listen_host, handlers.allowed_hosts))
              ? HandleAdminRequest(handlers, req.method_string(), req.target(),
                                   req[http::field::authorization], req.body(),
                                   req["X-Hub-Signature-256"])
              : AdminResponse{421, "text/plain",
                              "misdirected: this admin API answers only its own address, "
                              "localhost and admin_allowed_hosts\n"};
      http::response<http::string_body> res{static_cast<http::status>(answer.status),
                                            req.version()};
      res.set(http::field::server, "yoke");
      res.set(http::field::content_type, answer.content_type);
      res.keep_alive(req.keep_alive());
      res.body() = req.method() == http::verb::head ? "" : std::move(answer.body);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, kTuple);
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> Accept() {
    while (acceptor.is_open()) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (!acceptor.is_open()) co_return;
        // Out of descriptors and the like: pause instead of spinning on the same error.
        accept_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("admin API: accept failed: {}", ec.message());
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      asio::co_spawn(io, Serve(std::move(socket)), [](std::exception_ptr e) {
        if (e) spdlog::error("admin API: a connection ended by an unexpected error");
      });
    }
  }
};

AdminServer::AdminServer(AdminHandlers handlers) : impl_(std::make_unique<Impl>()) {
  impl_->handlers = std::move(handlers);
}

AdminServer::~AdminServer() { Stop(); }

Status AdminServer::Start(const HostPort& listen, int listening_fd) {
  beast::error_code ec;
  if (listening_fd >= 0) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(listening_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return Fail("admin API cannot use the inherited socket (fd " + std::to_string(listening_fd) +
                  "): " + std::strerror(errno));
    }
    impl_->acceptor.assign(address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), listening_fd, ec);
    if (ec) {
      return Fail("admin API cannot take over the listening socket (fd " +
                  std::to_string(listening_fd) + "): " + ec.message());
    }
  } else {
    auto address =
        asio::ip::make_address(listen.host == "localhost" ? "127.0.0.1" : listen.host, ec);
    if (ec) return Fail("admin_listen: bad address " + listen.host);
    tcp::endpoint endpoint(address, listen.port);
    impl_->acceptor.open(endpoint.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(endpoint, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      beast::error_code ignored;
      impl_->acceptor.close(ignored);
      return Fail("admin API cannot listen on " + listen.host + ":" + std::to_string(listen.port) +
                  ": " + ec.message());
    }
  }
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->listen_host = listen.host;
  impl_->io.restart();  // a stopped server may start again (after a failed upgrade)
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
  return Ok();
}

int AdminServer::listening_fd() const {
  return impl_->acceptor.is_open() ? impl_->acceptor.native_handle() : -1;
}

uint16_t AdminServer::port() const { return impl_->port; }

uint64_t AdminServer::accept_failures() const { return impl_->accept_failures.load(); }

void AdminServer::Stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->io.stop();
  impl_->thread.join();
  // Closed here too: the post above may not have run before the stop.
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace yoke
