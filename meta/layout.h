// Where records live in meta (docs/meta.md):
//
//   <project>/releases/<version>.txtpb
//   <project>/<env>/channels/<channel>.txtpb
//   <project>/<env>/services/<service>.txtpb
//   <project>/<env>/rollouts/<channel>.txtpb
//   <project>/<env>/hosts/<host>/<service>/status.txtpb
//   <project>/<env>/hosts/<host>/<service>/decisions/<UTC time>-<from>-to-<to>.txtpb
//
// Pure: names only. Thread-safety: free functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/artifact_name.h"  // IsSafeComponent

namespace yoke::meta {

std::string ReleasePath(std::string_view project, std::string_view version);
std::string ChannelPath(std::string_view project, std::string_view env, std::string_view channel);
std::string ServicePath(std::string_view project, std::string_view env, std::string_view service);
std::string RolloutPath(std::string_view project, std::string_view env, std::string_view channel);
std::string HostsDir(std::string_view project, std::string_view env);
std::string HostServiceDir(std::string_view project, std::string_view env, std::string_view host,
                           std::string_view service);
std::string StatusPath(std::string_view project, std::string_view env, std::string_view host,
                       std::string_view service);
std::string DecisionsDir(std::string_view project, std::string_view env, std::string_view host,
                         std::string_view service);

// The parts of a decision's path, for `yoke meta log`.
struct DecisionPlace {
  std::string project, env, host, service, file;
};
std::optional<DecisionPlace> ParseDecisionPath(std::string_view path);

}  // namespace yoke::meta
