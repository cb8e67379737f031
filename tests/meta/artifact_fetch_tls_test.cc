// FetchArtifact against a real nginx with TLS on 127.0.0.1 (Debian's nginx-light): a private
// CA made here with the openssl command, a bearer token and basic auth from 0600 files (a
// looser file refused), redirects followed up to the bound, progress reported. nginx runs
// in the foreground without a master (one process), started and stopped by its pid.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "meta/artifact_fetch.h"
#include "meta/digest.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kNginx[] = "/usr/sbin/nginx";
constexpr char kOpenssl[] = "/usr/bin/openssl";

// Runs a command to completion (bounded); true on exit 0.
bool RunToEnd(const std::vector<std::string>& argv, const fs::path& log) {
  testing::Subprocess p(argv, log);
  auto status = p.Wait(60s);
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

class ArtifactFetchTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kNginx, X_OK) != 0 || ::access(kOpenssl, X_OK) != 0) {
      GTEST_SKIP() << "needs nginx (nginx-light) and openssl";
    }
    const fs::path d = dir_.path();
    const fs::path log = d / "openssl.log";
    // A private CA, and a server certificate for 127.0.0.1 signed by it.
    ASSERT_TRUE(RunToEnd(
        {kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=yoke test CA", "-keyout", (d / "ca.key").string(), "-out", (d / "ca.pem").string()},
        log))
        << testing::ReadAll(log);
    ASSERT_TRUE(
        RunToEnd({kOpenssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                  "-keyout", (d / "server.key").string(), "-out", (d / "server.csr").string()},
                 log))
        << testing::ReadAll(log);
    testing::WriteAll(d / "san.ext", "subjectAltName=IP:127.0.0.1\n");
    ASSERT_TRUE(RunToEnd(
        {kOpenssl, "x509", "-req", "-in", (d / "server.csr").string(), "-CA",
         (d / "ca.pem").string(), "-CAkey", (d / "ca.key").string(), "-CAcreateserial", "-days",
         "2", "-extfile", (d / "san.ext").string(), "-out", (d / "server.pem").string()},
        log))
        << testing::ReadAll(log);
    ASSERT_TRUE(RunToEnd({"/bin/sh", "-c",
                          std::string(kOpenssl) + " passwd -apr1 hunter2 | sed 's/^/ci:/' > " +
                              (d / "htpasswd").string()},
                         log))
        << testing::ReadAll(log);
    artifact_.assign(200 * 1024, '\0');
    for (size_t i = 0; i < artifact_.size(); ++i) artifact_[i] = static_cast<char>('a' + i % 26);
    fs::create_directories(d / "www");
    testing::WriteAll(d / "www/app-1.0.0.jar", artifact_);
    port_ = testing::FreePort();
    const std::string p = std::to_string(port_);
    testing::WriteAll(d / "nginx.conf",
                      "daemon off;\nmaster_process off;\npid " + (d / "nginx.pid").string() +
                          ";\nerror_log " + (d / "error.log").string() +
                          ";\nevents { worker_connections 64; }\nhttp {\n"
                          "  access_log off;\n"
                          "  client_body_temp_path " +
                          (d / "tmp").string() +
                          ";\n"
                          "  server {\n    listen 127.0.0.1:" +
                          p + " ssl;\n" + "    ssl_certificate " + (d / "server.pem").string() +
                          ";\n" + "    ssl_certificate_key " + (d / "server.key").string() + ";\n" +
                          "    root " + (d / "www").string() + ";\n" +
                          "    location /private/ { if ($http_authorization != \"Bearer s3cret\") "
                          "{ return 401; }\n"
                          "      rewrite ^/private/(.*)$ /$1 break; }\n"
                          "    location /basic/ { auth_basic \"yoke\"; auth_basic_user_file " +
                          (d / "htpasswd").string() +
                          ";\n      rewrite ^/basic/(.*)$ /$1 break; }\n" +
                          "    location = /moved { return 302 /app-1.0.0.jar; }\n"
                          "    location = /loop { return 302 /loop; }\n"
                          "  }\n}\n");
    fs::create_directories(d / "tmp");
    nginx_ = std::make_unique<testing::Subprocess>(
        std::vector<std::string>{kNginx, "-p", d.string() + "/", "-c", (d / "nginx.conf").string(),
                                 "-e", (d / "error.log").string()},
        d / "nginx.out");
    ASSERT_TRUE(testing::WaitUntil([&] { return CheckPort(); }, 15s))
        << testing::ReadAll(d / "error.log") << testing::ReadAll(d / "nginx.out");
  }
  void TearDown() override {
    if (nginx_) {
      nginx_->Signal(SIGTERM);
      nginx_->Wait(10s);
    }
  }
  bool CheckPort() {
    auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }
  std::string Url(const std::string& path) {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  meta::ArtifactFetchOptions Options() {
    meta::ArtifactFetchOptions o;
    o.max_bytes = artifact_.size();
    o.timeout = 10s;
    o.ca_file = (dir_.path() / "ca.pem").string();
    return o;
  }
  fs::path Secret(const std::string& name, const std::string& text, mode_t mode) {
    const fs::path path = dir_.path() / name;
    testing::WriteAll(path, text);
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string Sha256Of(const std::string& data) {
    meta::Sha256 h;
    h.Update(data.data(), data.size());
    return h.HexDigest();
  }

  testing::TempDir dir_;
  uint16_t port_ = 0;
  std::string artifact_;
  std::unique_ptr<testing::Subprocess> nginx_;
  fs::path to() { return dir_.path() / "fetched"; }
};

// https with the private CA: the artifact arrives whole, hashed, with progress up to its size;
// without the CA (the system's only) the certificate is refused.
TEST_F(ArtifactFetchTlsTest, FetchesOverHttpsWithAPrivateCa) {
  uint64_t last_done = 0, last_total = 0;
  int calls = 0;
  auto options = Options();
  options.progress = [&](uint64_t done, uint64_t total) {
    last_done = done;
    last_total = total;
    ++calls;
  };
  auto got = meta::FetchArtifact(Url("/app-1.0.0.jar"), to(), options);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size, artifact_.size());
  EXPECT_EQ(got->sha256, Sha256Of(artifact_));
  EXPECT_GT(calls, 0);
  EXPECT_EQ(last_done, artifact_.size());
  EXPECT_EQ(last_total, artifact_.size());
  auto system_cas = Options();
  system_cas.ca_file.clear();
  auto refused = meta::FetchArtifact(Url("/app-1.0.0.jar"), to(), system_cas);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("TLS with 127.0.0.1:"), std::string::npos)
      << refused.error().message();
}

// A bearer token from a 0600 file opens /private/; without it the server's 401 is the reason;
// a token file others may read is refused before anything is sent.
TEST_F(ArtifactFetchTlsTest, SendsABearerTokenFromAnOwnerOnlyFile) {
  auto options = Options();
  auto denied = meta::FetchArtifact(Url("/private/app-1.0.0.jar"), to(), options);
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message().find("answered 401"), std::string::npos)
      << denied.error().message();
  options.token_file = Secret("token", "s3cret\n", 0600).string();
  auto got = meta::FetchArtifact(Url("/private/app-1.0.0.jar"), to(), options);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->sha256, Sha256Of(artifact_));
  options.token_file = Secret("loose-token", "s3cret\n", 0644).string();
  auto loose = meta::FetchArtifact(Url("/private/app-1.0.0.jar"), to(), options);
  ASSERT_FALSE(loose);
  EXPECT_NE(loose.error().message().find("has mode 0644"), std::string::npos)
      << loose.error().message();
  EXPECT_NE(loose.error().message().find("chmod 600"), std::string::npos);
}

// Basic auth from a 0600 "user:password" file opens /basic/; a wrong password gets 401.
TEST_F(ArtifactFetchTlsTest, SendsBasicAuthFromAnOwnerOnlyFile) {
  auto options = Options();
  options.basic_auth_file = Secret("basic", "ci:hunter2\n", 0600).string();
  auto got = meta::FetchArtifact(Url("/basic/app-1.0.0.jar"), to(), options);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->size, artifact_.size());
  options.basic_auth_file = Secret("wrong", "ci:nope", 0600).string();
  auto wrong = meta::FetchArtifact(Url("/basic/app-1.0.0.jar"), to(), options);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("answered 401"), std::string::npos)
      << wrong.error().message();
}

// A redirect is followed to the artifact; a redirect loop ends at the bound with a reason; with
// no redirects allowed the 302 itself is the answer.
TEST_F(ArtifactFetchTlsTest, FollowsRedirectsUpToTheBound) {
  auto options = Options();
  auto got = meta::FetchArtifact(Url("/moved"), to(), options);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->sha256, Sha256Of(artifact_));
  auto loop = meta::FetchArtifact(Url("/loop"), to(), options);
  ASSERT_FALSE(loop);
  EXPECT_NE(loop.error().message().find("more than 5 redirects"), std::string::npos)
      << loop.error().message();
  options.max_redirects = 0;
  auto unfollowed = meta::FetchArtifact(Url("/moved"), to(), options);
  ASSERT_FALSE(unfollowed);
  EXPECT_NE(unfollowed.error().message().find("answered 302"), std::string::npos)
      << unfollowed.error().message();
}

}  // namespace
}  // namespace yoke
