// The command template that starts an instance: split into words, placeholders filled in.
// Pure.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace yoke {

// The placeholders a command template may use.
inline constexpr std::string_view kCommandPlaceholders[] = {"artifact", "port", "instance_dir",
                                                            "version"};

// Splits `command` on blanks. Single or double quotes group words and are removed; a
// backslash outside single quotes escapes the next character. Fails on an unclosed quote.
StatusOr<std::vector<std::string>> SplitCommand(std::string_view command);

// Fills {name} placeholders in each word from `values`. Fails on an unknown or unclosed
// placeholder, so check-config can report it before anything runs.
StatusOr<std::vector<std::string>> ExpandCommand(std::string_view command,
                                                 const std::map<std::string, std::string>& values);

}  // namespace yoke
