// yoke's HTTP/1.1 reverse proxy: every user request goes to running over pooled keep-alive
// connections; eligible requests are also copied to testing, whose answer is paired with
// running's and handed to an EvidenceSink, and never waited for.
//
// Threads: `threads` workers, each with its own io_context and upstream pools, accepting on one
// shared listening socket, so the data path takes no lock. Publish, InFlight and Stats are safe
// from any thread. No exception is thrown on the data path: Beast and Asio errors are codes.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/evidence.h"
#include "core/mirror_policy.h"
#include "core/status.h"
#include "core/trusted_peers.h"
#include "core/upstream.h"
#include "proxy/proxy_stats.h"

namespace yoke::proxy {

struct ProxyOptions {
  unsigned threads = 1;
  uint32_t max_header_bytes = 16 * 1024;        // larger: 431
  uint64_t max_body_bytes = 100 * 1024 * 1024;  // larger: 413
  // A client must deliver a request header (and each body read) within this; an idle
  // keep-alive connection is closed after it too.
  std::chrono::milliseconds client_timeout{30000};
  std::chrono::milliseconds connect_timeout{2000};    // to an upstream
  std::chrono::milliseconds upstream_timeout{30000};  // running's answer; over: 504
  uint32_t max_idle_per_upstream = 512;               // pooled connections, per thread
  uint32_t max_connections = 10000;                   // client connections
  std::vector<std::string> route_patterns;
  MirrorPolicy mirror;
  TrustedPeers trusted_proxies;  // whose X-Forwarded-* are kept (http_rules.h, DecideRequest)
};

class Proxy : public TrafficSwitch {
 public:
  // `sink` may be null (pairs are then only counted); it must outlive the proxy.
  Proxy(ProxyOptions options, EvidenceSink* sink);
  ~Proxy() override;

  // Binds `listen` (port 0: any free port) and starts the workers. With `listening_fd` (a
  // socket already listening: systemd's socket activation, or yoke's own before an upgrade),
  // the proxy takes that descriptor over instead and `listen` only names it in messages.
  // A stopped proxy may be started again (on the same descriptor, after a failed upgrade).
  Status Start(const HostPort& listen, int listening_fd = -1);
  // The bound port, after Start.
  uint16_t port() const;
  // The listening socket's descriptor, while started (the proxy keeps owning it).
  int listening_fd() const;
  // For an upgrade: stops accepting (new connections wait in the kernel's backlog), answers
  // every request still to come on an open connection with `Connection: close`, closes
  // connections that stay idle for `idle_grace`, and waits up to `timeout` for every client
  // connection to end. Returns how many were still open (Stop cuts them). Call Stop after.
  // The listening socket itself closes with the proxy's descriptors: keep a dup to hand on.
  uint64_t Drain(std::chrono::milliseconds timeout, std::chrono::milliseconds idle_grace);
  // Closes the listeners and stops the workers; requests under way are cut.
  void Stop();

  void Publish(UpstreamSnapshot snapshot) override;
  uint64_t InFlight(const Upstream& upstream) const override;
  uint64_t Served(const Upstream& upstream) const override;
  UpstreamSnapshot Current() const;
  // The mirror policy used when a snapshot brings none (a reloaded config's); from the next
  // request on.
  void SetDefaultMirror(MirrorPolicy policy);
  ProxyStats Stats() const;

  struct Impl;  // the workers and shared state; defined in proxy.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace yoke::proxy
