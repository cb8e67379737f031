// The `yoke` command line: parsing, and the commands that talk to a running yoke, to meta or to
// the base folder. It builds no daemon and no proxy: `run` and `proxy` are handed in by the
// composition root (supervisor/run.h), the only place that builds real objects.
// Exit codes, which scripts may rely on:
//   0 success; 1 a runtime failure; 2 bad usage or a bad config; 3 another yoke holds the base.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace yoke {

// `yoke proxy`'s arguments, as given.
struct ProxyArgs {
  std::string listen;
  std::string running;
  std::string testing;
  std::string admin;
  unsigned threads = 1;
  std::vector<std::string> mirror_methods;
  double body_sample_rate = -1;  // < 0: the default (mirror.body_sample_rate)
};

struct CliWiring {
  std::function<int(const std::string& config_path)> run;  // `yoke run`
  std::function<int(const ProxyArgs&)> proxy;              // `yoke proxy`
};

int RunCli(int argc, char** argv, const CliWiring& wiring);

}  // namespace yoke
