#include "platform/logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace yoke {

void SetUpLogging(const Config& config, const std::filesystem::path& log_file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  try {
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        log_file.string(), config.log().file_max_bytes(), config.log().file_count()));
  } catch (const spdlog::spdlog_ex& e) {
    // Without the file yoke still logs to stderr; say so there.
    spdlog::error("cannot open log file {}: {}", log_file.string(), e.what());
  }
  auto logger = std::make_shared<spdlog::logger>("yoke", sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(config.log().level()));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace yoke
