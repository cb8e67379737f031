// The real Env (core/env.h) on a POSIX file system. Only the composition root (supervisor/run.cc)
// and the CLI take it; everything else is handed an Env.
// Thread-safety: thread-safe; it holds no state.
#pragma once

#include "core/env.h"

namespace yoke {

// The one process-wide instance; never destroyed.
Env* PosixEnv();

}  // namespace yoke
