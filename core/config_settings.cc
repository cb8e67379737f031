#include "core/config_settings.h"

#include <algorithm>

namespace yoke {

JudgeSettings JudgeSettingsFrom(const Config& config) {
  const auto& j = config.judge();
  JudgeSettings s;
  s.min_window = std::chrono::seconds(j.min_window_s());
  s.min_pairs = j.min_pairs();
  s.max_window = std::chrono::seconds(j.max_window_s());
  s.reject_at_max_window = j.reject_at_max_window();
  s.confidence = j.confidence();
  s.margin_5xx = s.margin_4xx = s.margin_log_errors = {j.relative_tolerance(), j.tolerance()};
  s.margin_log_warnings = {j.relative_tolerance(), j.warn_tolerance()};
  for (const GateMargin& m : j.margins()) {
    Margin* margin = m.gate() == "5xx"            ? &s.margin_5xx
                     : m.gate() == "4xx"          ? &s.margin_4xx
                     : m.gate() == "log_errors"   ? &s.margin_log_errors
                     : m.gate() == "log_warnings" ? &s.margin_log_warnings
                                                  : nullptr;
    if (!margin) continue;  // config_check reports it
    if (m.has_relative()) margin->relative = m.relative();
    if (m.has_floor()) margin->floor = m.floor();
  }
  s.route_min_pairs = j.route_min_pairs();
  s.min_events = j.min_events();
  s.lost_route_min = j.lost_route_min();
  s.new_kind_min = j.new_kind_min();
  s.max_latency_ratio = j.max_latency_ratio();
  s.latency_max_effect = j.latency_max_effect();
  s.drift_promotions = j.drift_promotions();
  s.auto_promote_major = j.auto_promote_major();
  s.body_diff_min_samples = j.body_diff_min_samples();
  s.margin_body_diff = {j.body_diff_relative(), j.body_diff_floor()};
  return s;
}

LogFormat LogFormatFrom(const Config& config) {
  const auto& f = config.log_format();
  LogFormat format;
  auto take = [](const auto& field, std::vector<std::string>& out) {
    if (field.size() > 0) out.assign(field.begin(), field.end());
  };
  take(f.level_fields(), format.level_fields);
  take(f.error_values(), format.error_values);
  take(f.warn_values(), format.warn_values);
  take(f.message_fields(), format.message_fields);
  take(f.logger_fields(), format.logger_fields);
  take(f.route_fields(), format.route_fields);
  format.route_patterns.assign(config.proxy().routes().begin(), config.proxy().routes().end());
  return format;
}

LifecycleSettings LifecycleSettingsFrom(const Config& config) {
  const auto& b = config.restart_backoff();
  return {Millis(b.initial_ms()), Millis(b.max_ms()), Millis(b.reset_after_ms())};
}

uint64_t FreeSpaceFloor(const Config& config, uint64_t total_bytes) {
  const Intake& intake = config.intake();
  const uint64_t bytes = intake.min_free_bytes();
  const uint64_t by_percent = total_bytes / 100 * intake.min_free_percent();
  if (bytes == 0) return by_percent;
  if (by_percent == 0) return bytes;
  return std::min(bytes, by_percent);
}

}  // namespace yoke
