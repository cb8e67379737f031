#include "platform/health_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "platform/http_client.h"

namespace yoke {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The probe keeps no clock of its own: the HTTP client bounds each check by its timeout.
class RealProbe : public HealthProbe {
 public:
  ProbeResult Check(uint16_t port, const std::string& http_path,
                    std::chrono::milliseconds timeout) override {
    if (http_path.empty()) {
      Status connected = CheckTcpConnect("127.0.0.1", port, timeout);
      if (!connected) return {false, connected.error().message()};
      return {true, "tcp connect"};
    }
    HttpRequest request;
    request.host = "127.0.0.1";
    request.port = port;
    request.target = http_path;
    request.headers = {{"User-Agent", "yoke-health"}};
    HttpCallOptions options;
    options.timeout = timeout;
    options.headers_only = true;  // only the status line and headers matter
    auto answer = SendHttpRequest(request, options);
    if (!answer) return {false, answer.error().message()};
    return {answer->status >= 200 && answer->status < 300,
            "HTTP " + std::to_string(answer->status)};
  }
};

}  // namespace

std::unique_ptr<HealthProbe> MakeHealthProbe() { return std::make_unique<RealProbe>(); }

bool IsPortFree(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  // As a server binds (SO_REUSEADDR): a port an old instance served on, with connections still
  // in TIME_WAIT, is free for the next one; one something listens on is not (Linux refuses a
  // bind beside a listener even with SO_REUSEADDR). Without it, fast promotions used up the
  // whole port range for a minute.
  int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace yoke
