#include "supervisor/cli_common.h"

#include <iostream>

#include "supervisor/config_loader.h"

namespace yoke {

std::optional<Config> LoadOrReport(const std::string& path) {
  auto config = LoadConfig(path);
  if (!config) {
    std::string text = config.error().message();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::cerr << text << "\n";
    return std::nullopt;
  }
  return *config;
}

std::filesystem::path TokenPath(const Config& config) {
  if (!config.admin_token_file().empty()) return config.admin_token_file();
  return std::filesystem::path(config.base_dir()) / "state" / "admin.token";
}

}  // namespace yoke
