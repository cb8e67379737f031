#include "core/config_check.h"

#include <cctype>

#include "core/address.h"
#include "core/artifact_name.h"
#include "core/command.h"
#include "core/trusted_peers.h"

namespace yoke {
namespace {

bool IsName(const std::string& s) {
  if (s.empty() || s.size() > 64 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string IdentifierOf(const Config& config) {
  return config.has_identifier() ? config.identifier() : config.service();
}

std::vector<ConfigProblem> CheckConfig(const Config& config) {
  std::vector<ConfigProblem> problems;
  auto add = [&](std::vector<std::string> path, std::string message) {
    problems.push_back({std::move(path), std::move(message)});
  };

  if (!config.has_service()) {
    add({"service"}, "service is required");
  } else if (!IsName(config.service())) {
    add({"service"}, "service must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit");
  }
  if (config.has_identifier() && !IsName(config.identifier())) {
    add({"identifier"}, "identifier must be 1-64 of [A-Za-z0-9._-], starting alphanumeric");
  }
  if (!config.has_base_dir() || config.base_dir().empty()) {
    add({"base_dir"}, "base_dir is required");
  } else if (config.base_dir()[0] != '/') {
    add({"base_dir"}, "base_dir must be an absolute path");
  }

  const uint32_t first = config.port_range().first();
  const uint32_t last = config.port_range().last();
  if (first == 0 || first > 65535) add({"port_range", "first"}, "port_range.first must be 1-65535");
  if (last == 0 || last > 65535) add({"port_range", "last"}, "port_range.last must be 1-65535");
  if (first > last) {
    add({"port_range"},
        "port_range is empty: first " + std::to_string(first) + " > last " + std::to_string(last));
  }
  auto in_range = [&](uint32_t port) { return port >= first && port <= last; };
  for (const char* field : {"listen", "admin_listen"}) {
    const std::string& text =
        std::string(field) == "listen" ? config.listen() : config.admin_listen();
    auto parsed = ParseHostPort(text);
    if (!parsed) {
      add({field}, std::string(field) + ": " + parsed.error().message());
    } else if (parsed->port != 0 && in_range(parsed->port)) {
      add({field}, std::string(field) + " port " + std::to_string(parsed->port) +
                       " lies inside port_range " + std::to_string(first) + "-" +
                       std::to_string(last) + ", which is for instances");
    }
  }

  if (auto peers = TrustedPeers::Parse(
          {config.proxy().trusted_proxies().begin(), config.proxy().trusted_proxies().end()});
      !peers) {
    add({"proxy", "trusted_proxies"}, "proxy." + peers.error().message());
  }
  if (!config.webhook_listen().empty()) {
    auto parsed = ParseHostPort(config.webhook_listen());
    if (!parsed) {
      add({"webhook_listen"}, "webhook_listen: " + parsed.error().message());
    } else if (parsed->port != 0 && in_range(parsed->port)) {
      add({"webhook_listen"}, "webhook_listen port " + std::to_string(parsed->port) +
                                  " lies inside port_range, which is for instances");
    }
  }

  if (config.intake().min_free_percent() > 100) {
    add({"intake", "min_free_percent"}, "intake.min_free_percent must be 0-100");
  }

  if (!config.has_command() || config.command().empty()) {
    add({"command"}, "command is required, e.g. \"{artifact} --port {port}\"");
  } else {
    std::map<std::string, std::string> probe;
    for (std::string_view name : kCommandPlaceholders) probe[std::string(name)] = "x";
    if (auto words = ExpandCommand(config.command(), probe); !words) {
      add({"command"}, words.error().message());
    } else if (config.command().find("{artifact}") == std::string::npos) {
      add({"command"}, "command must use {artifact}, or yoke cannot start the version it took in");
    }
  }

  if (config.has_properties_file() && config.properties_file().empty()) {
    add({"properties_file"}, "properties_file is empty; leave it out instead");
  }
  if (config.has_properties_file() && config.port_key().empty()) {
    add({"port_key"}, "port_key must not be empty when properties_file is set");
  }
  if (config.health().timeout_ms() == 0) add({"health", "timeout_ms"}, "must be > 0");
  if (config.health().interval_ms() == 0) add({"health", "interval_ms"}, "must be > 0");
  if (config.health().probe_timeout_ms() == 0) add({"health", "probe_timeout_ms"}, "must be > 0");
  if (config.health().has_http_path() && config.health().http_path().rfind('/', 0) != 0) {
    add({"health", "http_path"}, "http_path must start with '/'");
  }
  if (!config.json_log_glob().empty() && config.json_log_glob()[0] == '/') {
    add({"json_log_glob"}, "json_log_glob is relative to the instance folder");
  }
  if (config.has_pid_file()) {
    const std::string& pid_file = config.pid_file();
    if (pid_file.empty() || pid_file[0] == '/' || pid_file == ".." ||
        pid_file.rfind("../", 0) == 0 || pid_file.find("/../") != std::string::npos ||
        (pid_file.size() >= 3 && pid_file.compare(pid_file.size() - 3, 3, "/..") == 0)) {
      add({"pid_file"}, "pid_file is a path inside the instance folder (relative, no '..')");
    }
  }
  if (config.restart_backoff().initial_ms() == 0) {
    add({"restart_backoff", "initial_ms"}, "must be > 0");
  }
  if (config.restart_backoff().max_ms() < config.restart_backoff().initial_ms()) {
    add({"restart_backoff", "max_ms"}, "max_ms must be >= initial_ms");
  }
  if (config.tick_ms() == 0 || config.tick_ms() > 10000) add({"tick_ms"}, "must be 1-10000");
  for (const auto& [name, value] : config.env()) {
    if (name.empty() || name.find('=') != std::string::npos) {
      add({"env"}, "env name '" + name + "' is not a valid variable name");
    }
  }
  const auto& judge = config.judge();
  if (!(judge.confidence() > 0.5 && judge.confidence() < 1)) {
    add({"judge", "confidence"}, "confidence must be between 0.5 and 1 (0.95, not 95)");
  }
  if (judge.tolerance() < 0 || judge.tolerance() >= 1)
    add({"judge", "tolerance"}, "must be 0 to <1");
  if (judge.relative_tolerance() < 0) add({"judge", "relative_tolerance"}, "must be >= 0");
  if (judge.warn_tolerance() < 0) add({"judge", "warn_tolerance"}, "must be >= 0");
  for (const auto& m : judge.margins()) {
    if (m.gate() != "5xx" && m.gate() != "4xx" && m.gate() != "log_errors" &&
        m.gate() != "log_warnings") {
      add({"judge", "margins", "gate"},
          "must be 5xx, 4xx, log_errors or log_warnings, not \"" + m.gate() + "\"");
    }
    if (m.has_floor() && (m.floor() < 0 || m.floor() >= 1))
      add({"judge", "margins", "floor"}, "must be 0 to <1");
    if (m.has_relative() && m.relative() < 0) add({"judge", "margins", "relative"}, "must be >= 0");
  }
  if (judge.route_min_pairs() == 0) add({"judge", "route_min_pairs"}, "must be at least 1");
  if (judge.max_window_s() < judge.min_window_s()) {
    add({"judge", "max_window_s"}, "max_window_s must be >= min_window_s");
  }
  if (judge.max_latency_ratio() < 0) add({"judge", "max_latency_ratio"}, "must be >= 0");
  const auto& meta = config.meta();
  for (auto [field, value] : {std::pair{"project", meta.project()},
                              {"env", meta.env()},
                              {"channel", meta.channel()},
                              {"host", meta.host()},
                              {"branch", meta.branch()}}) {
    bool may_be_empty = std::string_view(field) == "project" || std::string_view(field) == "host";
    if ((!value.empty() || !may_be_empty) && !IsSafeComponent(value)) {
      add({"meta", field},
          std::string(field) + " must be a plain name: not empty, no '/', no leading '.'");
    }
  }
  if (meta.poll_interval_s() == 0) add({"meta", "poll_interval_s"}, "must be >= 1");
  if (meta.timeout_s() == 0) add({"meta", "timeout_s"}, "must be >= 1");
  // Real remotes (docs/meta.md): the host key is always checked, secrets never sit in the url.
  const std::string& url = meta.url();
  if (url.starts_with("ssh://") && meta.known_hosts_file().empty()) {
    add({"meta", "url"}, "an ssh url needs known_hosts_file (yoke checks the server's host key)");
  }
  if (auto scheme = url.find("://"); scheme != std::string::npos) {
    const std::string authority = url.substr(scheme + 3, url.find('/', scheme + 3) - scheme - 3);
    const auto at = authority.rfind('@');
    if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos) {
      add({"meta", "url"}, "the url holds a password; put the token in https_token_file");
    }
  }
  const std::string& level = config.log().level();
  if (level != "trace" && level != "debug" && level != "info" && level != "warn" &&
      level != "error") {
    add({"log", "level"}, "level must be trace, debug, info, warn or error");
  }
  return problems;
}

}  // namespace yoke
