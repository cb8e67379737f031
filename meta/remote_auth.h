// How yoke reaches a real git server for meta (docs/meta.md, "Real remotes"): the settings in
// one struct (RemoteAuth, built from MetaSettings), and one libgit2 session per fetch or push
// (RemoteSession) that supplies credentials, checks the server's identity, and bounds the
// whole transfer in time. `yoke run`, `yoke meta` and the captain all go through these.
//
// - ssh: the key in ssh_key_file (its passphrase from ssh_key_passphrase_file); the server's
//   host key must be in known_hosts_file (plain or hashed entries, "[host]:port" for a port
//   other than 22). There is no mode that accepts an unknown key.
// - https: basic auth with https_user and the token in https_token_file; with ca_file the
//   server's certificate must chain to that CA and name the URL's host; without, libgit2's
//   verification against the system's CAs decides. Never skipped.
// - Secrets files must be mode 0600 or stricter and owned by yoke's user; their contents
//   never appear in messages.
// - Timeout: libgit2 1.5 has no socket timeouts and blocks in recv() on a silent server. A
//   watchdog thread, at the deadline, shuts down (never closes) this process's sockets
//   connected to the remote's address and port, which wakes the blocked call with an error;
//   the progress callbacks also cancel once the deadline has passed.
//
// Thread-safety: a RemoteSession is used by the one thread running the libgit2 call; its
// watchdog only touches sockets and an atomic flag.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "proto/yoke/config.pb.h"

struct git_remote_callbacks;

namespace yoke::meta {

struct RemoteAuth {
  std::string ssh_key_file;
  std::string ssh_key_passphrase_file;
  std::string known_hosts_file;
  std::string https_user = "x-access-token";
  std::string https_token_file;
  std::string ca_file;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

RemoteAuth RemoteAuthFrom(const MetaSettings& settings);

// Why a remote operation failed, for /status and /metrics.
enum class RemoteFailure { kNone, kCredentials, kHostKey, kCertificate, kTimeout, kOther };
const char* RemoteFailureName(RemoteFailure failure);

// Reads a secrets file (trailing newlines dropped), refusing one that group or others may read
// or write, or that another user owns. The message names the file, never its contents.
StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what);

// "[host]:port" or "host" as known_hosts writes it; host and port from an ssh:// or scp-like
// URL. Exposed for tests.
struct RemoteEndpoint {
  std::string scheme;  // ssh, https, http, file, or "" for a path
  std::string user;
  std::string host;
  int port = 0;
  bool has_password = false;  // a password in the URL: refused, it would show in logs
};
RemoteEndpoint ParseRemoteUrl(const std::string& url);

// True when `known_hosts` (the file's text) lists `key` (the raw key blob) for host:port.
// `found_host` is set when the host is listed at all (with another key: a mismatch).
bool KnownHostsMatch(const std::string& known_hosts, const std::string& host, int port,
                     const std::string& key, bool* found_host);

class RemoteSession {
 public:
  RemoteSession(const RemoteAuth& auth, const std::string& url);
  ~RemoteSession();
  RemoteSession(const RemoteSession&) = delete;
  RemoteSession& operator=(const RemoteSession&) = delete;

  // Reads the secrets, known_hosts and CA this URL needs; an error names what is wrong.
  Status Prepare();
  // Points libgit2's callbacks at this session. REQUIRES: Prepare() succeeded.
  void Fill(git_remote_callbacks* callbacks);
  // Starts the deadline; the watchdog stops with the session.
  void StartClock();

  // The failure the callbacks or the watchdog saw, if any.
  RemoteFailure failure() const {
    return failure_ == RemoteFailure::kNone && expired_ ? RemoteFailure::kTimeout : failure_;
  }
  // One clear message for a failed libgit2 call: the cause the callbacks saw if they saw one,
  // else libgit2's own text.
  std::string Explain(const std::string& libgit2_message) const;

  // A ref the server refused in a push, with its reason (set by git_store's callback).
  std::string rejected_refs;
  // The push's lease: the remote tip the pushed commits were based on (last fetched; empty:
  // none), and what the server showed instead when it had moved (set by git_store's callback).
  std::string lease;
  std::string lease_broken;

  // libgit2 entry points (public for the C callbacks).
  int OnCredentials(void* out, const char* username_from_url, unsigned int allowed);
  int OnCertificate(void* cert, int valid, const char* host);
  int OnProgress();

 private:
  void Watch();

  RemoteAuth auth_;
  std::string url_;
  RemoteEndpoint endpoint_;
  std::string token_;
  std::string passphrase_;
  std::string known_hosts_;
  int credential_calls_ = 0;
  RemoteFailure failure_ = RemoteFailure::kNone;  // the calling thread's
  std::string detail_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;  // GUARDED_BY(mu_)
  std::atomic<bool> expired_{false};
  std::chrono::steady_clock::time_point deadline_{};
  std::thread watchdog_;
};

}  // namespace yoke::meta
