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
// The free space the base must keep for a new candidate to be taken in, on a file system of
// `total_bytes`: the smaller of intake.min_free_bytes and intake.min_free_percent of the total
// (a floor that is off counts as no floor).
uint64_t FreeSpaceFloor(const Config& config, uint64_t total_bytes);

}  // namespace yoke
