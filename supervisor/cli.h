// The `yoke` command line. Exit codes, which scripts may rely on:
//   0 success; 1 a runtime failure; 2 bad usage or a bad config; 3 another yoke holds the base.
#pragma once

namespace yoke {

int RunCli(int argc, char** argv);

}  // namespace yoke
