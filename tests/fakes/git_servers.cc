#include "tests/fakes/git_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

namespace yoke::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kSshd[] = "/usr/sbin/sshd";
constexpr char kSshKeygen[] = "/usr/bin/ssh-keygen";
constexpr char kNginx[] = "/usr/sbin/nginx";
constexpr char kFcgiwrap[] = "/usr/sbin/fcgiwrap";
constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr char kGit[] = "/usr/bin/git";
constexpr char kHttpBackend[] = "/usr/lib/git-core/git-http-backend";
constexpr char kGitShell[] = "/usr/bin/git-shell";

std::optional<std::string> Missing(std::initializer_list<const char*> programs) {
  for (const char* p : programs) {
    if (::access(p, X_OK) != 0) return std::string(p) + " is not installed (scripts/setup.sh)";
  }
  return std::nullopt;
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string FirstWords(const std::string& text, int n) {
  std::string out;
  size_t pos = 0;
  for (int i = 0; i < n; ++i) {
    size_t start = text.find_first_not_of(" \n", pos);
    if (start == std::string::npos) break;
    size_t end = text.find_first_of(" \n", start);
    if (!out.empty()) out += ' ';
    out += text.substr(start, end - start);
    pos = end;
  }
  return out;
}

void WriteSecret(const fs::path& path, const std::string& text) {
  WriteAll(path, text);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

std::string UserName() {
  passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "root";
}

}  // namespace

int RunProgram(const std::vector<std::string>& argv, const fs::path& dir, std::string* output) {
  static std::atomic<int> n{0};
  const fs::path out = dir / ("run-" + std::to_string(n++) + ".out");
  Subprocess child(argv, out);
  auto status = child.Wait(60s);
  if (output) *output = ReadAll(out);
  if (!status || !WIFEXITED(*status)) return -1;
  return WEXITSTATUS(*status);
}

bool InitBareRepo(const fs::path& path) {
  fs::create_directories(path.parent_path());
  return RunProgram({kGit, "init", "-q", "--bare", "-b", "main", path.string()},
                    path.parent_path()) == 0;
}

// --- ssh

std::optional<std::string> SshGitServer::Unavailable() {
  return Missing({kSshd, kSshKeygen, kGitShell, kGit});
}

SshGitServer::SshGitServer(const fs::path& dir)
    : dir_(dir / "sshd"), key_(dir_ / "client_key"), known_hosts_(dir_ / "known_hosts") {}

SshGitServer::~SshGitServer() = default;

std::string SshGitServer::log() const { return ReadAll(dir_ / "sshd.log"); }

bool SshGitServer::Start() {
  fs::create_directories(dir_);
  // sshd refuses to start without its privilege-separation folder (Debian's /run/sshd).
  std::error_code ec;
  fs::create_directories("/run/sshd", ec);
  for (const char* name : {"host_key", "client_key"}) {
    if (RunProgram(
            {kSshKeygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", (dir_ / name).string()},
            dir_) != 0) {
      return false;
    }
  }
  port_ = FreePort();
  fs::copy_file(dir_ / "client_key.pub", dir_ / "authorized_keys");
  WriteAll(known_hosts_, "[127.0.0.1]:" + std::to_string(port_) + " " +
                             FirstWords(ReadAll(dir_ / "host_key.pub"), 2) + "\n");
  const std::string config =
      "Port " + std::to_string(port_) +
      "\nListenAddress 127.0.0.1\n"
      "HostKey " +
      (dir_ / "host_key").string() + "\nPidFile " + (dir_ / "sshd.pid").string() +
      "\nAuthorizedKeysFile " + (dir_ / "authorized_keys").string() +
      "\nStrictModes no\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
      "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\n"
      "AllowUsers " +
      UserName() +
      "\nAllowTcpForwarding no\nX11Forwarding no\nPermitTTY no\nPermitUserRC no\n"
      "ForceCommand " +
      std::string(kGitShell) +
      " -c \"$SSH_ORIGINAL_COMMAND\"\n"
      "LogLevel VERBOSE\n"
      // sshd runs ForceCommand through the user's login shell; bash, started by sshd, reads
      // ~/.bashrc even when not interactive. A machine's own ~/.bashrc (a pyenv init here
      // took a second a connection) is not the server under test: HOME is an empty folder.
      "SetEnv HOME=" +
      (dir_ / "home").string() + "\n";
  fs::create_directories(dir_ / "home");
  WriteAll(dir_ / "sshd_config", config);
  return Restart();
}

void SshGitServer::Stop() { sshd_.reset(); }

bool SshGitServer::Restart() {
  sshd_ = std::make_unique<Subprocess>(
      std::vector<std::string>{kSshd, "-D", "-e", "-f", (dir_ / "sshd_config").string()},
      dir_ / "sshd.log");
  if (sshd_->pid() < 0) return false;
  return WaitUntil([&] { return Accepts(port_); }, 20s);
}

std::string SshGitServer::Url(const fs::path& repo) const {
  return "ssh://" + UserName() + "@127.0.0.1:" + std::to_string(port_) + repo.string();
}

fs::path SshGitServer::WrongKnownHosts() {
  const fs::path other = dir_ / "other_host_key";
  if (!fs::exists(other)) {
    RunProgram({kSshKeygen, "-q", "-t", "ed25519", "-N", "", "-f", other.string()}, dir_);
  }
  const fs::path file = dir_ / "wrong_known_hosts";
  WriteAll(file, "[127.0.0.1]:" + std::to_string(port_) + " " +
                     FirstWords(ReadAll(fs::path(other.string() + ".pub")), 2) + "\n");
  return file;
}

fs::path SshGitServer::WrongKey() {
  const fs::path key = dir_ / "stranger_key";
  if (!fs::exists(key)) {
    RunProgram({kSshKeygen, "-q", "-t", "ed25519", "-N", "", "-f", key.string()}, dir_);
  }
  return key;
}

// --- https

std::optional<std::string> HttpsGitServer::Unavailable() {
  return Missing({kNginx, kFcgiwrap, kOpenssl, kHttpBackend, kGit});
}

HttpsGitServer::HttpsGitServer(const fs::path& dir)
    : dir_(dir / "https"), ca_(dir_ / "ca.crt"), token_(dir_ / "token") {}

HttpsGitServer::~HttpsGitServer() {
  nginx_.reset();  // before fcgiwrap, so no request is cut in two
  fcgiwrap_.reset();
}

std::string HttpsGitServer::log() const {
  return ReadAll(dir_ / "error.log") + ReadAll(dir_ / "fcgiwrap.log");
}

std::string HttpsGitServer::Url(const std::string& name) const {
  return "https://127.0.0.1:" + std::to_string(port_) + "/" + name;
}

bool HttpsGitServer::Start() {
  fs::create_directories(dir_ / "tmp");
  fs::create_directories(repos());
  const std::string d = dir_.string();
  auto ok = [&](std::vector<std::string> argv) { return RunProgram(argv, dir_) == 0; };
  WriteAll(dir_ / "san.cnf", "subjectAltName=IP:127.0.0.1\n");
  if (!ok({kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", d + "/ca.key", "-out", ca_.string(), "-days", "2", "-subj",
           "/CN=yoke test CA"}) ||
      !ok({kOpenssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=127.0.0.1"}) ||
      !ok({kOpenssl, "x509", "-req", "-in", d + "/server.csr", "-CA", ca_.string(), "-CAkey",
           d + "/ca.key", "-CAcreateserial", "-out", d + "/server.crt", "-days", "2", "-extfile",
           d + "/san.cnf"})) {
    return false;
  }
  const std::string token = "tok-" + std::to_string(::getpid()) + "-s3cret";
  WriteSecret(token_, token + "\n");
  std::string hash;
  if (RunProgram({kOpenssl, "passwd", "-apr1", token}, dir_, &hash) != 0) return false;
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r')) hash.pop_back();
  WriteAll(dir_ / "htpasswd", "x-access-token:" + hash + "\n");

  const std::string sock = d + "/fcgi.sock";
  fcgiwrap_ = std::make_unique<Subprocess>(
      std::vector<std::string>{kFcgiwrap, "-s", "unix:" + sock}, dir_ / "fcgiwrap.log");
  if (!WaitUntil([&] { return fs::exists(sock); }, 10s)) return false;

  port_ = FreePort();
  const std::string conf =
      "daemon off;\nmaster_process on;\nworker_processes 1;\nuser " + UserName() + ";\npid " + d +
      "/nginx.pid;\nerror_log " + d + "/error.log info;\n" +
      "events { worker_connections 512; }\n"
      "http {\n"
      "  access_log " +
      d +
      "/access.log;\n"
      "  client_body_temp_path " +
      d + "/tmp/body;\n  fastcgi_temp_path " + d + "/tmp/fastcgi;\n  proxy_temp_path " + d +
      "/tmp/proxy;\n  uwsgi_temp_path " + d + "/tmp/uwsgi;\n  scgi_temp_path " + d +
      "/tmp/scgi;\n"
      "  client_max_body_size 0;\n"
      "  server {\n"
      "    listen 127.0.0.1:" +
      std::to_string(port_) +
      " ssl;\n"
      "    ssl_certificate " +
      d + "/server.crt;\n    ssl_certificate_key " + d +
      "/server.key;\n"
      "    location / {\n"
      "      auth_basic \"meta\";\n      auth_basic_user_file " +
      d +
      "/htpasswd;\n"
      "      fastcgi_pass unix:" +
      sock +
      ";\n"
      "      fastcgi_param SCRIPT_FILENAME " +
      kHttpBackend +
      ";\n"
      "      fastcgi_param GIT_PROJECT_ROOT " +
      repos().string() +
      ";\n"
      "      fastcgi_param GIT_HTTP_EXPORT_ALL \"\";\n"
      "      fastcgi_param REMOTE_USER $remote_user;\n"
      "      fastcgi_param PATH_INFO $uri;\n"
      "      fastcgi_param QUERY_STRING $query_string;\n"
      "      fastcgi_param REQUEST_METHOD $request_method;\n"
      "      fastcgi_param CONTENT_TYPE $content_type;\n"
      "      fastcgi_param CONTENT_LENGTH $content_length;\n"
      "      fastcgi_param HTTP_CONTENT_ENCODING $http_content_encoding;\n"
      "      fastcgi_param GIT_PROTOCOL $http_git_protocol;\n"
      "    }\n  }\n}\n";
  WriteAll(dir_ / "nginx.conf", conf);
  nginx_ = std::make_unique<Subprocess>(
      std::vector<std::string>{kNginx, "-p", d + "/", "-c", d + "/nginx.conf", "-e",
                               d + "/error.log"},
      dir_ / "nginx.out");
  if (nginx_->pid() < 0) return false;
  return WaitUntil([&] { return Accepts(port_); }, 20s);
}

fs::path HttpsGitServer::WrongCa() {
  const fs::path other = dir_ / "other_ca.crt";
  if (!fs::exists(other)) {
    RunProgram(
        {kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", (dir_ / "other_ca.key").string(), "-out", other.string(), "-days",
         "2", "-subj", "/CN=another CA"},
        dir_);
  }
  return other;
}

fs::path HttpsGitServer::WrongToken() {
  const fs::path file = dir_ / "wrong_token";
  WriteSecret(file, "not-the-token\n");
  return file;
}

// --- silent

SilentServer::SilentServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listen_fd_, 16);
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      held_.push_back(fd);  // held open, never read or written
      ++accepted_;
    }
  });
}

SilentServer::~SilentServer() {
  stop_ = true;
  thread_.join();
  for (int fd : held_) ::close(fd);
  ::close(listen_fd_);
}

}  // namespace yoke::testing
