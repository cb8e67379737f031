// FetchArtifact from a path, file:// and a real HTTP server on 127.0.0.1 (a one-shot server in
// this test): the digest and size of what arrived, and clear errors for a 404, a body larger
// than the release says, a refused connection and an unsupported scheme.
#include "meta/artifact_fetch.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "tests/fakes/process_harness.h"
#include "tests/fakes/scripted_server.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// Answers one request with `response`, then closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, response = std::move(response)] {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec) return;
      asio::streambuf request;
      asio::read_until(socket, request, "\r\n\r\n", ec);
      asio::write(socket, asio::buffer(response), ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    });
  }
  ~OneShotServer() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

class ArtifactFetchTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::filesystem::path to_ = dir_.path() / "artifact.part";
};

// "abc" has the standard's sha256, whichever way it arrives.
TEST_F(ArtifactFetchTest, FetchesFromAPathFileUriAndHttp) {
  const std::string abc_sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  testing::WriteAll(dir_.path() / "src", "abc");
  for (std::string uri :
       {(dir_.path() / "src").string(), "file://" + (dir_.path() / "src").string()}) {
    auto got = meta::FetchArtifact(uri, to_, 3, 5s);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->sha256, abc_sha);
    EXPECT_EQ(got->size, 3u);
  }
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  auto got = meta::FetchArtifact(
      "http://127.0.0.1:" + std::to_string(server.port()) + "/a/shop.jar", to_, 3, 5s);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->sha256, abc_sha);
  EXPECT_EQ(testing::ReadAll(to_), "abc");
}

// Failures are errors with a reason, never a crash or a partial success.
TEST_F(ArtifactFetchTest, ReportsWhatWentWrong) {
  {
    OneShotServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    auto got =
        meta::FetchArtifact("http://127.0.0.1:" + std::to_string(server.port()) + "/x", to_, 3, 5s);
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message().find("answered 404"), std::string::npos)
        << got.error().message();
  }
  {
    OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
    auto got =
        meta::FetchArtifact("http://127.0.0.1:" + std::to_string(server.port()) + "/x", to_, 3, 5s);
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message().find("larger than its release says"), std::string::npos)
        << got.error().message();
  }
  auto refused = meta::FetchArtifact(
      "http://127.0.0.1:" + std::to_string(testing::FreePort()) + "/x", to_, 3, 5s);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("cannot connect"), std::string::npos);
  auto ftp = meta::FetchArtifact("ftp://127.0.0.1/x", to_, 3, 5s);
  ASSERT_FALSE(ftp);
  EXPECT_NE(ftp.error().message().find("unknown scheme"), std::string::npos);
  EXPECT_FALSE(meta::FetchArtifact((dir_.path() / "missing").string(), to_, 3, 5s));
}

// A server that accepts and then never answers fails the fetch at its timeout, and one that
// closes after 3 of the 1000 bytes it promised fails it at once: a reason each, never a hang
// and never a short file taken for the artifact.
TEST_F(ArtifactFetchTest, AStallingServerFailsAtTheTimeout) {
  for (auto play :
       {testing::ScriptedServer::Play::kSilent, testing::ScriptedServer::Play::kAnswer}) {
    testing::ScriptedServer server("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc", play);
    auto got = meta::FetchArtifact("http://127.0.0.1:" + std::to_string(server.port()) + "/x", to_,
                                   1000, 1s);
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message().find("cannot fetch"), std::string::npos)
        << got.error().message();
  }
}

// A local artifact must be a regular file: a FIFO (which would block a read forever), a device
// and a folder are refused at once, by path or file://.
TEST_F(ArtifactFetchTest, RefusesWhatIsNotARegularFile) {
  const fs::path fifo = dir_.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (std::string uri :
       {fifo.string(), "file://" + fifo.string(), std::string("/dev/zero"), dir_.path().string()}) {
    auto got = meta::FetchArtifact(uri, to_, 1 << 20, 5s);
    ASSERT_FALSE(got) << uri;
    EXPECT_NE(got.error().message().find("not a regular file"), std::string::npos)
        << got.error().message();
  }
}

}  // namespace
}  // namespace yoke
