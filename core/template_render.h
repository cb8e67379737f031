// Rendering an instance's templates (Mustache, kainjow/mustache.hpp from Debian's
// libkainjow-mustache-dev: header-only, the full spec with sections and dotted names, no
// dependencies). Strict where Mustache is lenient: a tag whose name has no value fails with the
// template's line, never renders as an empty string. Nothing is HTML-escaped (these are config
// files, not pages). Pure. Thread-safety: free functions.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace yoke {

// The values a template may name: plain names (port, version, ...) and groups reached with a
// dot (flags.beta, secrets.db_password).
struct TemplateValues {
  std::map<std::string, std::string> values;
  std::map<std::string, std::map<std::string, std::string>> groups;
};

// Renders `text`. Errors: "<name>:<line>: {{tag}} has no value" (with the names there are), a
// delimiter change (not supported), or the library's parse error, each starting with `name`.
StatusOr<std::string> RenderTemplate(std::string_view name, const std::string& text,
                                     const TemplateValues& values);

// True when a tag of `text` names a value of `group` (so the output holds, say, a secret).
bool TemplateUsesGroup(const std::string& text, std::string_view group);

}  // namespace yoke
