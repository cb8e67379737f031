// yoke's own log: spdlog to stderr (journald keeps it under systemd) and to a size-capped
// rotating file in the base. Call once, from main, before any other thread starts.
#pragma once

#include <filesystem>

#include "proto/yoke/config.pb.h"

namespace yoke {

void SetUpLogging(const Config& config, const std::filesystem::path& log_file);

}  // namespace yoke
