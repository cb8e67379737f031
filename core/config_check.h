// Checks a parsed config for what the schema alone cannot say: empty port ranges, a command
// without {artifact}, a port range that overlaps the proxy's port. Pure; the loader maps each
// problem's field path to a file line and column.
#pragma once

#include <string>
#include <vector>

#include "proto/yoke/config.pb.h"

namespace yoke {

struct ConfigProblem {
  // The field the problem is about, outermost first: {"port_range", "first"}.
  std::vector<std::string> field_path;
  std::string message;
};

std::vector<ConfigProblem> CheckConfig(const Config& config);

// The identifier artifacts are named by: `identifier`, or `service` when it is unset.
std::string IdentifierOf(const Config& config);

}  // namespace yoke
