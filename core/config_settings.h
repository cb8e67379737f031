// What the config's fields mean to core's logic: the judge's settings, the log format and the
// lifecycle's restart backoff, read from a checked Config. Pure; thread-safe.
#pragma once

#include "core/judge.h"
#include "core/lifecycle.h"
#include "core/log_line.h"
#include "proto/yoke/config.pb.h"

namespace yoke {

JudgeSettings JudgeSettingsFrom(const Config& config);
LogFormat LogFormatFrom(const Config& config);
LifecycleSettings LifecycleSettingsFrom(const Config& config);

}  // namespace yoke
