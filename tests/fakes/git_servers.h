// Real git servers on 127.0.0.1 for meta's remote tests, each in its own temp folder and
// stopped by pid with the object:
// - SshGitServer: OpenSSH's sshd (openssh-server) in the foreground on a free port, with a
//   generated ed25519 host key, an ed25519 client key, a known_hosts file, and git-shell as the
//   only command (ForceCommand). It runs as the test's own user and lets that user in by key
//   only, so no system user is created (docs/meta.md says why).
// - HttpsGitServer: nginx (TLS from a CA made here with openssl, auth_basic against a htpasswd
//   made with `openssl passwd`) in front of `git http-backend` through fcgiwrap.
// - SilentServer: accepts connections and never says anything.
// Available() says why one cannot run (a program missing); tests skip then.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/process_harness.h"

namespace yoke::testing {

// Runs a program to completion (at most 60 s); returns its exit code (-1: did not run or end)
// and fills `output` with its stdout and stderr.
int RunProgram(const std::vector<std::string>& argv, const std::filesystem::path& dir,
               std::string* output = nullptr);

// Creates a bare repository with `git init --bare -b main`.
bool InitBareRepo(const std::filesystem::path& path);

class SshGitServer {
 public:
  // Why the server cannot run here, or nullopt.
  static std::optional<std::string> Unavailable();
  explicit SshGitServer(const std::filesystem::path& dir);
  ~SshGitServer();
  bool Start();  // false: see log()
  // Stops sshd (by pid) and starts it again on the same port with the same keys.
  void Stop();
  bool Restart();
  std::string Url(const std::filesystem::path& repo) const;
  const std::filesystem::path& key_file() const { return key_; }
  const std::filesystem::path& known_hosts() const { return known_hosts_; }
  // A known_hosts file for this port listing another (freshly made) key.
  std::filesystem::path WrongKnownHosts();
  // Another client key, not authorized.
  std::filesystem::path WrongKey();
  uint16_t port() const { return port_; }
  std::string log() const;

 private:
  std::filesystem::path dir_, key_, known_hosts_;
  uint16_t port_ = 0;
  std::unique_ptr<Subprocess> sshd_;
};

class HttpsGitServer {
 public:
  static std::optional<std::string> Unavailable();
  explicit HttpsGitServer(const std::filesystem::path& dir);
  ~HttpsGitServer();
  bool Start();
  // The repositories it serves live under repos(); Url("meta.git") names repos()/meta.git.
  std::filesystem::path repos() const { return dir_ / "repos"; }
  std::string Url(const std::string& name) const;
  const std::filesystem::path& ca_file() const { return ca_; }
  const std::filesystem::path& token_file() const { return token_; }
  // A CA that did not sign the server's certificate, and a token file with another token.
  std::filesystem::path WrongCa();
  std::filesystem::path WrongToken();
  uint16_t port() const { return port_; }
  std::string log() const;

 private:
  std::filesystem::path dir_, ca_, token_;
  uint16_t port_ = 0;
  std::unique_ptr<Subprocess> fcgiwrap_;
  std::unique_ptr<Subprocess> nginx_;
};

class SilentServer {
 public:
  SilentServer();  // listens on a free port of 127.0.0.1
  ~SilentServer();
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

}  // namespace yoke::testing
