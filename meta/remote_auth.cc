// RemoteAuth and RemoteSession over libgit2 1.5, OpenSSL (certificates, hashed known_hosts)
// and POSIX sockets (the watchdog).
#include "meta/remote_auth.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <git2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace yoke::meta {
namespace {

std::string Base64Decode(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) return "";
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return "";
  size_t pad = 0;
  if (text.ends_with("==")) {
    pad = 2;
  } else if (text.ends_with("=")) {
    pad = 1;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// ssh's host patterns: '*' and '?' only ('[' is literal: "[host]:port").
bool PatternMatches(const char* p, const char* s) {
  for (; *p; ++p, ++s) {
    if (*p == '*') {
      for (const char* rest = s;; ++rest) {
        if (PatternMatches(p + 1, rest)) return true;
        if (!*rest) return false;
      }
    }
    if (!*s || (*p != '?' && *p != *s)) return false;
  }
  return !*s;
}

// One known_hosts host field entry (plain pattern or |1|salt|hash) against the name ssh
// looks up: "host" for port 22, else "[host]:port".
bool HostEntryMatches(const std::string& entry, const std::string& name) {
  if (entry.starts_with("|1|")) {
    auto bar = entry.find('|', 3);
    if (bar == std::string::npos) return false;
    std::string salt = Base64Decode(entry.substr(3, bar - 3));
    std::string hash = Base64Decode(entry.substr(bar + 1));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()),
         reinterpret_cast<const unsigned char*>(name.data()), name.size(), mac, &mac_len);
    return hash.size() == mac_len && std::memcmp(hash.data(), mac, mac_len) == 0;
  }
  bool matched = false;
  std::istringstream patterns(entry);
  for (std::string p; std::getline(patterns, p, ',');) {
    bool negated = p.starts_with("!");
    if (negated) p = p.substr(1);
    if (PatternMatches(p.c_str(), name.c_str())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

const char* SshKeyType(git_cert_ssh_raw_type_t type) {
  switch (type) {
    case GIT_CERT_SSH_RAW_TYPE_RSA:
      return "ssh-rsa";
    case GIT_CERT_SSH_RAW_TYPE_DSS:
      return "ssh-dss";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256:
      return "ecdsa-sha2-nistp256";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384:
      return "ecdsa-sha2-nistp384";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521:
      return "ecdsa-sha2-nistp521";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519:
      return "ssh-ed25519";
    default:
      return "unknown";
  }
}

std::string Sha256Fingerprint(const std::string& key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr);
  std::string b64(4 * ((len + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), digest, static_cast<int>(len));
  b64.resize(static_cast<size_t>(n));
  while (b64.ends_with("=")) b64.pop_back();
  return "SHA256:" + b64;
}

// Verifies a DER leaf certificate against the CAs in `ca_file` and the URL's host (a name or
// an IP address). Returns "" when it holds, else what is wrong.
std::string VerifyWithCa(const unsigned char* der, size_t len, const std::string& ca_file,
                         const std::string& host) {
  const unsigned char* p = der;
  std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &p, static_cast<long>(len)),
                                                   X509_free);
  if (!cert) return "the server's certificate does not parse";
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  if (!store || X509_STORE_load_locations(store.get(), ca_file.c_str(), nullptr) != 1) {
    return "cannot read ca_file " + ca_file;
  }
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return "cannot verify the server's certificate";
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    return std::string("the server's certificate is not signed by ca_file ") + ca_file + " (" +
           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())) + ")";
  }
  unsigned char addr[16];
  bool is_ip =
      inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
  int named = is_ip ? X509_check_ip_asc(cert.get(), host.c_str(), 0)
                    : X509_check_host(cert.get(), host.data(), host.size(), 0, nullptr);
  if (named != 1) return "the server's certificate does not name " + host;
  return "";
}

int CredentialsCallback(git_credential** out, const char* url, const char* username_from_url,
                        unsigned int allowed, void* payload) {
  (void)url;
  return static_cast<RemoteSession*>(payload)->OnCredentials(out, username_from_url, allowed);
}

int CertificateCallback(git_cert* cert, int valid, const char* host, void* payload) {
  return static_cast<RemoteSession*>(payload)->OnCertificate(cert, valid, host);
}

int TransferProgress(const git_indexer_progress*, void* payload) {
  return static_cast<RemoteSession*>(payload)->OnProgress();
}

int SidebandProgress(const char*, int, void* payload) {
  return static_cast<RemoteSession*>(payload)->OnProgress();
}

int PushProgress(unsigned int, unsigned int, size_t, void* payload) {
  return static_cast<RemoteSession*>(payload)->OnProgress();
}

}  // namespace

RemoteAuth RemoteAuthFrom(const MetaSettings& settings) {
  RemoteAuth auth;
  auth.ssh_key_file = settings.ssh_key_file();
  auth.ssh_key_passphrase_file = settings.ssh_key_passphrase_file();
  auth.known_hosts_file = settings.known_hosts_file();
  if (!settings.https_user().empty()) auth.https_user = settings.https_user();
  auth.https_token_file = settings.https_token_file();
  auth.ca_file = settings.ca_file();
  auth.timeout = std::chrono::seconds(std::max<uint32_t>(1, settings.timeout_s()));
  return auth;
}

const char* RemoteFailureName(RemoteFailure failure) {
  switch (failure) {
    case RemoteFailure::kNone:
      return "none";
    case RemoteFailure::kCredentials:
      return "credentials";
    case RemoteFailure::kHostKey:
      return "host_key";
    case RemoteFailure::kCertificate:
      return "certificate";
    case RemoteFailure::kTimeout:
      return "timeout";
    case RemoteFailure::kOther:
      return "other";
  }
  return "other";
}

StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Fail(what + " " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return Fail(what + " " + path + " is not a file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Fail(what + " " + path + " has mode " + mode +
                "; a secrets file must be 0600 or stricter (chmod 600 " + path + ")");
  }
  if (st.st_uid != ::geteuid()) {
    return Fail(what + " " + path + " is owned by uid " + std::to_string(st.st_uid) +
                ", not by yoke's user (uid " + std::to_string(::geteuid()) + ")");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return Fail("cannot read " + what + " " + path);
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

RemoteEndpoint ParseRemoteUrl(const std::string& url) {
  RemoteEndpoint e;
  auto scheme_end = url.find("://");
  std::string rest;
  if (scheme_end != std::string::npos) {
    e.scheme = url.substr(0, scheme_end);
    rest = url.substr(scheme_end + 3);
  } else if (!url.starts_with("/") && url.find(':') != std::string::npos &&
             url.find(':') < url.find('/')) {
    e.scheme = "ssh";  // scp-like: user@host:path
    rest = url.substr(0, url.find(':'));
  } else {
    return e;  // a local path
  }
  std::string authority = rest.substr(0, rest.find('/'));
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    if (auto colon = userinfo.find(':'); colon != std::string::npos) {
      e.has_password = true;
      userinfo = userinfo.substr(0, colon);
    }
    e.user = userinfo;
  }
  std::string port;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    e.host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    e.host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    e.host = authority;
  }
  e.port = port.empty() ? 0 : std::atoi(port.c_str());
  if (e.port == 0) {
    if (e.scheme == "ssh") e.port = 22;
    if (e.scheme == "https") e.port = 443;
    if (e.scheme == "http") e.port = 80;
    if (e.scheme == "git") e.port = 9418;
  }
  return e;
}

bool KnownHostsMatch(const std::string& known_hosts, const std::string& host, int port,
                     const std::string& key, bool* found_host) {
  const std::string name = port == 22 ? host : "[" + host + "]:" + std::to_string(port);
  *found_host = false;
  bool matched = false;
  std::istringstream lines(known_hosts);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> w = Words(line);
    if (w.empty() || w[0].starts_with("#")) continue;
    bool revoked = false;
    if (w[0].starts_with("@")) {
      revoked = w[0] == "@revoked";
      if (!revoked) continue;  // @cert-authority: host certificates are not supported
      w.erase(w.begin());
    }
    if (w.size() < 3) continue;
    if (!HostEntryMatches(w[0], name)) continue;
    const std::string listed = Base64Decode(w[2]);
    if (revoked) {
      if (listed == key) return false;
      continue;
    }
    *found_host = true;
    if (listed == key) matched = true;
  }
  return matched;
}

RemoteSession::RemoteSession(const RemoteAuth& auth, const std::string& url)
    : auth_(auth), url_(url), endpoint_(ParseRemoteUrl(url)) {}

RemoteSession::~RemoteSession() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  done_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

Status RemoteSession::Prepare() {
  if (endpoint_.has_password) {
    return Fail("meta url holds a password; put the token in https_token_file instead");
  }
  if (endpoint_.scheme == "https" || endpoint_.scheme == "http") {
    if (!auth_.https_token_file.empty()) {
      YOKE_ASSIGN_OR_RETURN(token_, ReadSecretFile(auth_.https_token_file, "https_token_file"));
    }
    if (!auth_.ca_file.empty() && ::access(auth_.ca_file.c_str(), R_OK) != 0) {
      return Fail("ca_file " + auth_.ca_file + ": " + std::strerror(errno));
    }
  }
  if (endpoint_.scheme == "ssh") {
    if (auth_.known_hosts_file.empty()) {
      return Fail("an ssh remote needs known_hosts_file: yoke checks the server's host key");
    }
    std::ifstream in(auth_.known_hosts_file);
    if (!in) return Fail("known_hosts_file " + auth_.known_hosts_file + ": cannot read it");
    std::stringstream text;
    text << in.rdbuf();
    known_hosts_ = text.str();
    if (!auth_.ssh_key_file.empty()) {
      // The key itself is read by libssh2; its mode and owner are checked here.
      YOKE_RETURN_IF_ERROR(ReadSecretFile(auth_.ssh_key_file, "ssh_key_file"));
    }
    if (!auth_.ssh_key_passphrase_file.empty()) {
      YOKE_ASSIGN_OR_RETURN(
          passphrase_, ReadSecretFile(auth_.ssh_key_passphrase_file, "ssh_key_passphrase_file"));
    }
  }
  return Ok();
}

void RemoteSession::Fill(git_remote_callbacks* callbacks) {
  callbacks->credentials = CredentialsCallback;
  callbacks->certificate_check = CertificateCallback;
  callbacks->transfer_progress = TransferProgress;
  callbacks->sideband_progress = SidebandProgress;
  callbacks->push_transfer_progress = PushProgress;
  callbacks->payload = this;
}

void RemoteSession::StartClock() {
  if (endpoint_.host.empty()) return;  // a local path or file://: nothing to wait for
  deadline_ = std::chrono::steady_clock::now() + auth_.timeout;
  watchdog_ = std::thread([this] { Watch(); });
}

void RemoteSession::Watch() {
  std::unique_lock lock(mu_);
  if (done_cv_.wait_until(lock, deadline_, [&] { return done_; })) return;
  expired_ = true;
  // Sockets to the remote, resolved once; the scan repeats while the call still runs, in case
  // libgit2 opened another connection meanwhile.
  std::vector<sockaddr_storage> peers;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint_.port);
  lock.unlock();
  if (getaddrinfo(endpoint_.host.c_str(), port.c_str(), &hints, &found) == 0) {
    for (addrinfo* a = found; a; a = a->ai_next) {
      sockaddr_storage s{};
      std::memcpy(&s, a->ai_addr, a->ai_addrlen);
      peers.push_back(s);
    }
    freeaddrinfo(found);
  }
  lock.lock();
  while (!done_) {
    lock.unlock();
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir) {
      while (dirent* entry = ::readdir(dir)) {
        int fd = std::atoi(entry->d_name);
        if (fd <= 2 || fd == ::dirfd(dir)) continue;
        struct stat st;
        if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
        for (const sockaddr_storage& want : peers) {
          bool same = false;
          if (peer.ss_family == AF_INET && want.ss_family == AF_INET) {
            auto* a = reinterpret_cast<sockaddr_in*>(&peer);
            auto* b = reinterpret_cast<const sockaddr_in*>(&want);
            same = a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
          } else if (peer.ss_family == AF_INET6 && want.ss_family == AF_INET6) {
            auto* a = reinterpret_cast<sockaddr_in6*>(&peer);
            auto* b = reinterpret_cast<const sockaddr_in6*>(&want);
            same = a->sin6_port == b->sin6_port &&
                   std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
          }
          if (same) ::shutdown(fd, SHUT_RDWR);
        }
      }
      ::closedir(dir);
    }
    lock.lock();
    done_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return done_; });
  }
}

int RemoteSession::OnProgress() { return expired_ ? -1 : 0; }

int RemoteSession::OnCredentials(void* out_raw, const char* username_from_url,
                                 unsigned int allowed) {
  auto** out = static_cast<git_credential**>(out_raw);
  if (expired_) return -1;
  ++credential_calls_;
  const std::string host = endpoint_.host + ":" + std::to_string(endpoint_.port);
  if (credential_calls_ > 2 || (credential_calls_ > 1 && !(allowed & GIT_CREDENTIAL_USERNAME))) {
    failure_ = RemoteFailure::kCredentials;
    detail_ =
        endpoint_.scheme == "ssh"
            ? "the ssh server " + host + " refused the key in ssh_key_file " + auth_.ssh_key_file
            : "the server " + host + " refused the token in https_token_file " +
                  auth_.https_token_file + " (user " + auth_.https_user + ")";
    git_error_set_str(GIT_ERROR_NET, detail_.c_str());
    return GIT_EAUTH;
  }
  const std::string user =
      username_from_url && *username_from_url ? username_from_url : endpoint_.user;
  if (allowed & GIT_CREDENTIAL_SSH_KEY) {
    if (auth_.ssh_key_file.empty()) {
      failure_ = RemoteFailure::kCredentials;
      detail_ = "the ssh server " + host + " asks for a key and meta has no ssh_key_file";
      git_error_set_str(GIT_ERROR_NET, detail_.c_str());
      return GIT_EAUTH;
    }
    const std::string pub = auth_.ssh_key_file + ".pub";
    const bool has_pub = ::access(pub.c_str(), R_OK) == 0;
    return git_credential_ssh_key_new(out, user.empty() ? "git" : user.c_str(),
                                      has_pub ? pub.c_str() : nullptr, auth_.ssh_key_file.c_str(),
                                      passphrase_.empty() ? nullptr : passphrase_.c_str());
  }
  if (allowed & GIT_CREDENTIAL_USERNAME) {
    --credential_calls_;  // only the name: not an attempt
    return git_credential_username_new(out, user.empty() ? "git" : user.c_str());
  }
  if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
    if (auth_.https_token_file.empty()) {
      failure_ = RemoteFailure::kCredentials;
      detail_ = "the server " + host + " asks for credentials and meta has no https_token_file";
      git_error_set_str(GIT_ERROR_NET, detail_.c_str());
      return GIT_EAUTH;
    }
    return git_credential_userpass_plaintext_new(out, auth_.https_user.c_str(), token_.c_str());
  }
  failure_ = RemoteFailure::kCredentials;
  detail_ = "the server " + host + " asks for a kind of credential yoke does not have";
  git_error_set_str(GIT_ERROR_NET, detail_.c_str());
  return GIT_EAUTH;
}

int RemoteSession::OnCertificate(void* cert_raw, int valid, const char* host_raw) {
  auto* cert = static_cast<git_cert*>(cert_raw);
  if (expired_) return -1;
  const std::string host = host_raw ? host_raw : endpoint_.host;
  if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    auto* hostkey = reinterpret_cast<git_cert_hostkey*>(cert);
    if (!(hostkey->type & GIT_CERT_SSH_RAW)) {
      failure_ = RemoteFailure::kHostKey;
      detail_ = "the ssh server " + host + " gave no host key to check";
      git_error_set_str(GIT_ERROR_SSH, detail_.c_str());
      return GIT_ECERTIFICATE;
    }
    const std::string key(hostkey->hostkey, hostkey->hostkey_len);
    bool listed = false;
    if (KnownHostsMatch(known_hosts_, endpoint_.host, endpoint_.port, key, &listed)) return 0;
    failure_ = RemoteFailure::kHostKey;
    const std::string name = endpoint_.port == 22
                                 ? endpoint_.host
                                 : "[" + endpoint_.host + "]:" + std::to_string(endpoint_.port);
    detail_ = std::string(listed ? "the host key of " : "unknown host key: ") + name + " (" +
              SshKeyType(hostkey->raw_type) + " " + Sha256Fingerprint(key) + ")" +
              (listed ? " does not match known_hosts_file " : " is not in known_hosts_file ") +
              auth_.known_hosts_file + "; refused";
    git_error_set_str(GIT_ERROR_SSH, detail_.c_str());
    return GIT_ECERTIFICATE;
  }
  if (cert->cert_type == GIT_CERT_X509) {
    if (auth_.ca_file.empty()) {
      if (valid) return 0;
      failure_ = RemoteFailure::kCertificate;
      detail_ = "the certificate of " + host +
                " is not trusted by the system's CAs (set ca_file for a private CA)";
      git_error_set_str(GIT_ERROR_SSL, detail_.c_str());
      return GIT_ECERTIFICATE;
    }
    auto* x509 = reinterpret_cast<git_cert_x509*>(cert);
    std::string problem =
        VerifyWithCa(static_cast<const unsigned char*>(x509->data), x509->len, auth_.ca_file, host);
    if (problem.empty()) return 0;
    failure_ = RemoteFailure::kCertificate;
    detail_ = "https " + host + ": " + problem;
    git_error_set_str(GIT_ERROR_SSL, detail_.c_str());
    return GIT_ECERTIFICATE;
  }
  return valid ? 0 : GIT_ECERTIFICATE;
}

std::string RemoteSession::Explain(const std::string& libgit2_message) const {
  if (failure() == RemoteFailure::kTimeout) {
    return "no answer from " + endpoint_.host + ":" + std::to_string(endpoint_.port) + " within " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(auth_.timeout).count()) +
           " s (meta.timeout_s); gave up";
  }
  if (failure_ != RemoteFailure::kNone && !detail_.empty()) return detail_;
  return libgit2_message;
}

}  // namespace yoke::meta

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer, in the sanitizer build only: libgit2 1.5's ssh transport leaks on every ssh
// connect the known_hosts handle it loads for itself (libssh2_knownhost_init, never freed), and
// 32 bytes through its own allocator, whose frames carry no symbols and no frame pointers (so
// only the module can be named), and one more inside libssh2. None is yoke's. The price: any leak
// allocated inside libgit2 is suppressed (one of yoke's git objects left unfreed too); yoke's own
// allocations are still checked.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libssh2_knownhost_init\nleak:libgit2.so.1.5\nleak:libssh2.so.1\n";
}
#endif
