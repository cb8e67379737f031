// The status page served at GET / on admin_listen: supervisor/status_page.html, compiled in at
// build time (CMake writes status_page.cc from status_page.cc.in), so yoke serves it with
// nothing read from disk or fetched from elsewhere. Thread-safety: a constant.
#pragma once

#include <string_view>

namespace yoke {

std::string_view StatusPageHtml();

}  // namespace yoke
