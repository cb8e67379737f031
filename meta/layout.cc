#include "meta/layout.h"

#include <vector>

namespace yoke::meta {
namespace {

std::string Join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

}  // namespace

std::string ReleasePath(std::string_view project, std::string_view version) {
  return Join({project, "releases", std::string(version) + ".txtpb"});
}

std::string ChannelPath(std::string_view project, std::string_view env, std::string_view channel) {
  return Join({project, env, "channels", std::string(channel) + ".txtpb"});
}

std::string ServicePath(std::string_view project, std::string_view env, std::string_view service) {
  return Join({project, env, "services", std::string(service) + ".txtpb"});
}

std::string RolloutPath(std::string_view project, std::string_view env, std::string_view channel) {
  return Join({project, env, "rollouts", std::string(channel) + ".txtpb"});
}

std::string HostsDir(std::string_view project, std::string_view env) {
  return Join({project, env, "hosts"});
}

std::string HostServiceDir(std::string_view project, std::string_view env, std::string_view host,
                           std::string_view service) {
  return Join({project, env, "hosts", host, service});
}

std::string StatusPath(std::string_view project, std::string_view env, std::string_view host,
                       std::string_view service) {
  return HostServiceDir(project, env, host, service) + "/status.txtpb";
}

std::string DecisionsDir(std::string_view project, std::string_view env, std::string_view host,
                         std::string_view service) {
  return HostServiceDir(project, env, host, service) + "/decisions";
}

std::optional<DecisionPlace> ParseDecisionPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  // project / env / hosts / host / service / decisions / file
  if (parts.size() != 7 || parts[2] != "hosts" || parts[5] != "decisions") return std::nullopt;
  if (!(parts[6].ends_with(".txtpb") || parts[6].ends_with(".pb"))) return std::nullopt;
  return DecisionPlace{std::string(parts[0]), std::string(parts[1]), std::string(parts[3]),
                       std::string(parts[4]), std::string(parts[6])};
}

}  // namespace yoke::meta
