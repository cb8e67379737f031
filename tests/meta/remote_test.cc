// GitStore against real git servers started here on 127.0.0.1 (tests/fakes/git_servers.h):
// sshd with git-shell, and nginx + fcgiwrap + git http-backend over TLS with basic auth. Each
// failure the issue names (bad credentials, unknown host key, wrong CA, silent server) gives
// one clear message and its cause; a rewritten remote is never pushed back. Labelled `remote`.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "meta/git_store.h"
#include "meta/remote_auth.h"
#include "tests/fakes/git_servers.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using meta::RemoteAuth;
using meta::RemoteFailure;
using testing::TempDir;

const meta::Author kHost{"yoke h1", "yoke@h1"};

std::unique_ptr<meta::GitStore> Clone(const fs::path& path, const std::string& url,
                                      const RemoteAuth& auth) {
  auto store = meta::GitStore::OpenOrInit(path.string(), "main", true);
  EXPECT_TRUE(store) << store.error().message();
  EXPECT_TRUE((*store)->SetRemote(url));
  (*store)->SetAuth(auth);
  return std::move(*store);
}

class SshRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = testing::SshGitServer::Unavailable()) GTEST_SKIP() << *missing;
    ASSERT_TRUE(server_.Start()) << server_.log();
    repo_ = dir_.path() / "srv" / "meta.git";
    ASSERT_TRUE(testing::InitBareRepo(repo_));
    auth_.ssh_key_file = server_.key_file().string();
    auth_.known_hosts_file = server_.known_hosts().string();
    auth_.timeout = 20s;
  }
  TempDir dir_;
  testing::SshGitServer server_{dir_.path()};
  fs::path repo_;
  RemoteAuth auth_;
};

// A commit pushed over ssh arrives in the server's repository, and a second clone fetches it.
TEST_F(SshRemoteTest, PushesAndFetchesWithAKeyAndKnownHosts) {
  auto a = Clone(dir_.path() / "a", server_.Url(repo_), auth_);
  ASSERT_TRUE(a->Commit({{"p/prod/hosts/h1/s/status.txtpb", "running: \"1\"\n"}}, "one", kHost));
  auto pushed = a->Push();
  ASSERT_TRUE(pushed) << pushed.error().message() << "\n" << server_.log();
  auto remote = meta::GitStore::Open(repo_.string(), "main");
  ASSERT_TRUE(remote);
  EXPECT_EQ(*(*remote)->Tip(), *a->Tip());

  auto b = Clone(dir_.path() / "b", server_.Url(repo_), auth_);
  auto fetched = b->Fetch();
  ASSERT_TRUE(fetched) << fetched.error().message();
  ASSERT_TRUE(b->Integrate());
  EXPECT_EQ(**b->ReadFile("p/prod/hosts/h1/s/status.txtpb"), "running: \"1\"\n");
}

// A host key that is not the one in known_hosts is refused, named with its fingerprint.
TEST_F(SshRemoteTest, RefusesAHostKeyNotInKnownHosts) {
  auth_.known_hosts_file = server_.WrongKnownHosts().string();
  auto a = Clone(dir_.path() / "a", server_.Url(repo_), auth_);
  auto fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message().find("does not match known_hosts_file"), std::string::npos)
      << fetched.error().message();
  EXPECT_NE(fetched.error().message().find("SHA256:"), std::string::npos);
  EXPECT_EQ(a->last_failure(), RemoteFailure::kHostKey);

  // Not listed at all: also refused, and said so.
  testing::WriteAll(dir_.path() / "empty_known_hosts", "");
  auth_.known_hosts_file = (dir_.path() / "empty_known_hosts").string();
  a->SetAuth(auth_);
  fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message().find("unknown host key"), std::string::npos)
      << fetched.error().message();
}

// A key the server does not know: one clear message, no endless retry.
TEST_F(SshRemoteTest, NamesARefusedKey) {
  auth_.ssh_key_file = server_.WrongKey().string();
  auto a = Clone(dir_.path() / "a", server_.Url(repo_), auth_);
  auto fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message().find("refused the key in ssh_key_file"), std::string::npos)
      << fetched.error().message();
  EXPECT_EQ(a->last_failure(), RemoteFailure::kCredentials);
}

// A key file others may read is refused before anything is sent.
TEST_F(SshRemoteTest, RefusesASecretsFileOthersCanRead) {
  ::chmod(server_.key_file().c_str(), 0644);
  auto a = Clone(dir_.path() / "a", server_.Url(repo_), auth_);
  auto fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message().find("has mode 0644; a secrets file must be 0600"),
            std::string::npos)
      << fetched.error().message();
}

// Two hosts push at once to the real server: one wins, the other is refused as non-fast-forward,
// fetches, re-applies its own commit and pushes again; both commits end up on the server.
TEST_F(SshRemoteTest, TwoHostsPushingAtOnceBothLand) {
  auto a = Clone(dir_.path() / "a", server_.Url(repo_), auth_);
  auto b = Clone(dir_.path() / "b", server_.Url(repo_), auth_);
  ASSERT_TRUE(a->Commit({{"p/prod/hosts/h1/s/status.txtpb", "a"}}, "a", kHost));
  ASSERT_TRUE(b->Commit({{"p/prod/hosts/h2/s/status.txtpb", "b"}}, "b", kHost));
  Status pa, pb;
  std::thread ta([&] { pa = a->Push(); });
  std::thread tb([&] { pb = b->Push(); });
  ta.join();
  tb.join();
  // A real server updates its ref atomically: at most one of two pushes from the same base wins.
  EXPECT_TRUE(pa || pb);
  EXPECT_FALSE(pa && pb);
  auto& loser = pa ? b : a;
  const std::string prefix = pa ? "p/prod/hosts/h2" : "p/prod/hosts/h1";
  ASSERT_TRUE(loser->Fetch());
  auto applied = loser->Integrate(prefix);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_EQ(*applied, 1u);
  ASSERT_TRUE(loser->Push());
  auto remote = meta::GitStore::Open(repo_.string(), "main");
  EXPECT_EQ(**(*remote)->ReadFile("p/prod/hosts/h1/s/status.txtpb"), "a");
  EXPECT_EQ(**(*remote)->ReadFile("p/prod/hosts/h2/s/status.txtpb"), "b");
}

class HttpsRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = testing::HttpsGitServer::Unavailable()) GTEST_SKIP() << *missing;
    ASSERT_TRUE(server_.Start()) << server_.log();
    ASSERT_TRUE(testing::InitBareRepo(server_.repos() / "meta.git"));
    auth_.https_token_file = server_.token_file().string();
    auth_.ca_file = server_.ca_file().string();
    auth_.timeout = 20s;
  }
  TempDir dir_;
  testing::HttpsGitServer server_{dir_.path()};
  RemoteAuth auth_;
};

// Push and fetch through nginx with TLS from the test CA and the token as basic auth.
TEST_F(HttpsRemoteTest, PushesAndFetchesWithATokenAndAPrivateCa) {
  auto a = Clone(dir_.path() / "a", server_.Url("meta.git"), auth_);
  ASSERT_TRUE(a->Commit({{"p/prod/hosts/h1/s/status.txtpb", "one"}}, "one", kHost));
  auto pushed = a->Push();
  ASSERT_TRUE(pushed) << pushed.error().message() << "\n" << server_.log();
  auto b = Clone(dir_.path() / "b", server_.Url("meta.git"), auth_);
  auto fetched = b->Fetch();
  ASSERT_TRUE(fetched) << fetched.error().message();
  ASSERT_TRUE(b->Integrate());
  EXPECT_EQ(*b->Tip(), *a->Tip());
}

// A wrong token: one message naming the token file (never the token), cause credentials.
TEST_F(HttpsRemoteTest, NamesARefusedToken) {
  auth_.https_token_file = server_.WrongToken().string();
  auto a = Clone(dir_.path() / "a", server_.Url("meta.git"), auth_);
  auto fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message().find("refused the token in https_token_file"),
            std::string::npos)
      << fetched.error().message();
  EXPECT_EQ(fetched.error().message().find("not-the-token"), std::string::npos);
  EXPECT_EQ(a->last_failure(), RemoteFailure::kCredentials);
}

// A certificate from another CA is refused: certificates are always verified.
TEST_F(HttpsRemoteTest, RefusesACertificateFromAnotherCa) {
  auth_.ca_file = server_.WrongCa().string();
  auto a = Clone(dir_.path() / "a", server_.Url("meta.git"), auth_);
  auto fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message().find("is not signed by ca_file"), std::string::npos)
      << fetched.error().message();
  EXPECT_EQ(a->last_failure(), RemoteFailure::kCertificate);

  // Without ca_file the system's CAs decide, and they do not know the test CA.
  auth_.ca_file.clear();
  a->SetAuth(auth_);
  fetched = a->Fetch();
  ASSERT_FALSE(fetched);
  EXPECT_EQ(a->last_failure(), RemoteFailure::kCertificate) << fetched.error().message();
}

// A server that accepts and says nothing: the fetch gives up at the timeout, not later.
TEST(SilentRemoteTest, GivesUpAtTheTimeout) {
  testing::SilentServer silent;
  TempDir dir;
  testing::WriteAll(dir.path() / "known_hosts", "");
  RemoteAuth auth;
  auth.known_hosts_file = (dir.path() / "known_hosts").string();
  auth.timeout = 2s;
  for (const std::string& url :
       {"ssh://git@127.0.0.1:" + std::to_string(silent.port()) + "/meta.git",
        "https://127.0.0.1:" + std::to_string(silent.port()) + "/meta.git"}) {
    auto store = Clone(dir.path() / ("c" + std::to_string(url.size())), url, auth);
    auto start = std::chrono::steady_clock::now();
    auto fetched = store->Fetch();
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(fetched) << url;
    EXPECT_NE(fetched.error().message().find("within 2 s (meta.timeout_s)"), std::string::npos)
        << fetched.error().message();
    EXPECT_EQ(store->last_failure(), RemoteFailure::kTimeout);
    EXPECT_GE(took, 2s) << url;
    EXPECT_LT(took, 6s) << url;
    std::printf("[ silent   ] %s gave up after %lld ms\n", url.c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  }
  EXPECT_GE(silent.accepted(), 2);
}

// An operator force-pushes the remote back to before a channel move. The host, which had
// fetched the move and made a commit of its own on top, re-applies only its own unpushed commit
// on the new tip: the move is not pushed back, and the rewrite is reported with both ids.
TEST(RewrittenRemoteTest, ReappliesOnlyOwnUnpushedCommits) {
  TempDir dir;
  const fs::path remote_path = dir.path() / "remote.git";
  ASSERT_TRUE(testing::InitBareRepo(remote_path));
  auto remote = std::move(*meta::GitStore::Open(remote_path.string(), "main"));
  const meta::Author op{"op", "op@example.com"};
  auto before = remote->Commit({{"p/prod/channels/stable.txtpb", "release: \"1\"\n"}}, "v1", op);
  ASSERT_TRUE(before);
  RemoteAuth none;
  auto host = Clone(dir.path() / "h1", "file://" + remote_path.string(), none);
  const std::string own = "p/prod/hosts/h1/s";
  ASSERT_TRUE(host->Fetch());
  ASSERT_TRUE(host->Integrate(own));
  ASSERT_TRUE(host->Commit({{own + "/status.txtpb", "running 1"}}, "status 1", kHost));
  ASSERT_TRUE(host->Push());  // pushed: on the remote before the rewrite
  ASSERT_TRUE(remote->Commit({{"p/prod/channels/stable.txtpb", "release: \"2\"\n"}}, "v2", op));
  ASSERT_TRUE(host->Fetch());
  ASSERT_TRUE(host->Integrate(own));
  EXPECT_EQ(**host->ReadFile("p/prod/channels/stable.txtpb"), "release: \"2\"\n");
  ASSERT_TRUE(host->Commit({{own + "/status.txtpb", "testing 2"}}, "status 2", kHost));
  const std::string old_tip = *remote->Tip();

  // The force-push: the remote's branch goes back to the commit before "status 1".
  ASSERT_TRUE(testing::RunProgram({"/usr/bin/git", "--git-dir", remote_path.string(), "update-ref",
                                   "refs/heads/main", *before},
                                  dir.path()) == 0);
  ASSERT_TRUE(host->Fetch());
  auto rewrite = host->TakeRewrite();
  ASSERT_TRUE(rewrite);
  EXPECT_EQ(*rewrite, old_tip + " -> " + *before);
  auto applied = host->Integrate(own);
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_EQ(*applied, 1u);  // "status 2" only: "status 1" was pushed, "v2" is not its own
  ASSERT_TRUE(host->Push());
  EXPECT_EQ(**remote->ReadFile("p/prod/channels/stable.txtpb"), "release: \"1\"\n");
  EXPECT_EQ(**remote->ReadFile(own + "/status.txtpb"), "testing 2");
  auto log = *remote->Log(10);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].message, "status 2");
}

// known_hosts as ssh writes it: plain and hashed host names, "[host]:port", and @revoked.
TEST(KnownHostsTest, MatchesPlainHashedAndPortForms) {
  const std::string key("\x00\x00\x00\x0bssh-ed25519-key", 19);
  const std::string b64 = "AAAAC3NzaC1lZDI1NTE5LWtleQ==";  // base64 of `key`
  bool found = false;
  EXPECT_TRUE(meta::KnownHostsMatch("[127.0.0.1]:2222 ssh-ed25519 " + b64 + "\n", "127.0.0.1", 2222,
                                    key, &found));
  EXPECT_TRUE(found);
  EXPECT_FALSE(
      meta::KnownHostsMatch("127.0.0.1 ssh-ed25519 " + b64 + "\n", "127.0.0.1", 2222, key, &found));
  EXPECT_FALSE(found);
  EXPECT_TRUE(meta::KnownHostsMatch("git.example.com,10.0.0.1 ssh-ed25519 " + b64 + "\n",
                                    "git.example.com", 22, key, &found));
  // Hashed (ssh-keygen -H): HMAC-SHA1 of "[127.0.0.1]:2222" with salt "0123456789abcdefghij".
  const std::string hashed = "|1|MDEyMzQ1Njc4OWFiY2RlZmdoaWo=|kjl9J932vxVxCmU2IfKMefPFSKM=";
  EXPECT_TRUE(
      meta::KnownHostsMatch(hashed + " ssh-ed25519 " + b64 + "\n", "127.0.0.1", 2222, key, &found));
  EXPECT_FALSE(
      meta::KnownHostsMatch(hashed + " ssh-ed25519 " + b64 + "\n", "127.0.0.1", 2223, key, &found));
  // Listed with another key: found, not matched.
  EXPECT_FALSE(meta::KnownHostsMatch("[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n",
                                     "127.0.0.1", 2222, key, &found));
  EXPECT_TRUE(found);
  EXPECT_FALSE(meta::KnownHostsMatch(
      "@revoked * ssh-ed25519 " + b64 + "\n[127.0.0.1]:2222 ssh-ed25519 " + b64 + "\n", "127.0.0.1",
      2222, key, &found));
}

}  // namespace
}  // namespace yoke
