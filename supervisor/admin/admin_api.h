// The admin API on admin_listen (loopback by default): GET / (the status page, one
// self-contained HTML file that polls /status), GET /status (JSON), GET /metrics (Prometheus
// text), GET /decisions/<id> (one decision in full, protobuf text), POST /promote, /reject,
// /pin, /unpin and /rollback (an operator's verdict, with `Authorization: Bearer <token>` and
// a JSON body {"reason": "...", "author": "...", "version": "..." (pin, rollback), "now": true
// (rollback)}), and POST /webhook (meta's remote changed; checked with X-Hub-Signature-256,
// GitHub's HMAC-SHA256 form), GET /healthz and /readyz (unauthenticated: load balancers).
//
// HandleAdminRequest turns a request into a response and never touches a socket; AdminServer only
// moves bytes. Thread-safety: the server runs one thread of its own; the handlers it is given must
// be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/lifecycle.h"
#include "core/status.h"

namespace yoke {

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct AdminHandlers {
  std::function<std::string()> status_json;
  std::function<std::string()> metrics_text;
  // Null: state-changing calls are not offered (yoke proxy).
  std::function<AdminResponse(ManualAction action, const std::string& reason,
                              const std::string& author, const std::string& version)>
      verdict{};
  std::string token{};  // what `Authorization: Bearer` must carry
  // POST /webhook: meta's remote changed. Null: not offered.
  std::function<void()> webhook{};
  std::string webhook_secret{};  // the HMAC-SHA256 key X-Hub-Signature-256 is checked with
  // The text of decision `id` (a checked IsDecisionId), or nothing for a 404.
  // Null: GET /decisions/<id> is not offered (yoke proxy).
  std::function<std::optional<std::string>(const std::string& id)> decision_text{};
  // Host names (without port) the API answers besides its listen address, localhost and
  // loopback literals: config's admin_allowed_hosts. Any other Host gets 421.
  std::vector<std::string> allowed_hosts{};
  // GET /status/history: the page's time series (history_report.h). Null: not offered.
  std::function<std::string()> history_json{};
  // GET /decisions?limit=N: the timeline, newest first, N at most 1000 (default 100). Null: not
  // offered.
  std::function<std::string(size_t limit)> decisions_json{};
  // GET /healthz (yoke's loop turns) and GET /readyz (the proxy listens and running is up), for
  // load balancers and probes: unauthenticated, answered for any Host, 200 "ok" or 503 with the
  // reason. Each returns nothing when it holds, else why not. Null: /readyz is 404, /healthz 200.
  std::function<std::optional<std::string>()> alive{};
  std::function<std::optional<std::string>()> ready{};
  // The branch meta follows: a webhook whose JSON payload names another ref ("ref":
  // "refs/heads/other", GitHub's push event) is acknowledged (202) and fetches nothing. A
  // payload without a ref (a ping) fetches. Empty: every webhook fetches.
  std::string webhook_branch{};
  // The webhook's own listener (webhook_listen): only /webhook, /healthz and /readyz are
  // answered, for any Host (GitHub sends its own); everything else is 404.
  bool webhook_only = false;
};

// Whether a request to `target` must carry a Host this API answers (AdminHostAllowed): all but
// the health endpoints and the webhook-only listener, which show nothing a rebinding page wants.
bool AdminChecksHost(const AdminHandlers& handlers, std::string_view target);

// Whether a webhook payload is for `branch`: its "ref" is refs/heads/<branch>, or it has no
// ref at all (a ping, or not GitHub's form), or `branch` is empty.
bool WebhookIsForBranch(std::string_view payload, std::string_view branch);

// Whether a request's Host names this API: the listen address, `localhost`, a loopback literal
// or one of `allowed`, with any port, compared without case. Refusing the rest keeps a web page
// that rebinds its own DNS name to 127.0.0.1 from reading /status (DNS rebinding).
bool AdminHostAllowed(std::string_view host, std::string_view listen_host,
                      const std::vector<std::string>& allowed);

AdminResponse HandleAdminRequest(const AdminHandlers& handlers, std::string_view method,
                                 std::string_view target, std::string_view authorization = {},
                                 std::string_view body = {}, std::string_view signature = {});

class AdminServer {
 public:
  explicit AdminServer(AdminHandlers handlers);
  ~AdminServer();
  // Binds `listen`, or with `listening_fd` takes over a socket already listening (systemd's, or
  // the one yoke hands itself across an upgrade). A stopped server may be started again.
  Status Start(const HostPort& listen, int listening_fd = -1);
  uint16_t port() const;
  int listening_fd() const;  // while started; the server keeps owning it
  // Accepts that failed (out of descriptors, say); each is followed by a pause, never a spin.
  uint64_t accept_failures() const;
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace yoke
