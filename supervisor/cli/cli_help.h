// Less typing and kinder mistakes on the command line: a config named by its service
// (`yoke status hello` reads /etc/yoke/hello.txtpb, the systemd unit's convention) or by
// $YOKE_CONFIG, and "did you mean" for an unknown subcommand, flag or config field.
// Thread-safety: the CLI's one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace yoke {

// Where config names are looked up: $YOKE_CONFIG_DIR, else /etc/yoke.
std::string ConfigDir();

// What a --config value (or NAME) means: a value naming a file that exists, or holding a "/"
// or ending in .txtpb, is a path and stays as it is; any other word is a service's name and
// becomes <dir>/<word>.txtpb. `exists`: whether `value` names a file as given.
std::string ResolveConfigName(const std::string& value, const std::string& dir, bool exists);

// Gives every --config option under `app` (at any depth) $YOKE_CONFIG as its fallback and the
// name lookup above. Call after every subcommand is added.
void ApplyConfigConventions(CLI::App& app);

// Adds an optional NAME positional to `command` that fills `path` like --config does, and makes
// its --config optional (LoadOrReport says when neither is given).
void AddConfigName(CLI::App* command, std::string* path);

// After a parse error: a hint for the first word of argv that is neither a known subcommand nor
// a known flag where it stands ("unknown subcommand 'stauts' of yoke; did you mean 'status'?"),
// or nothing.
std::optional<std::string> SuggestionFor(const CLI::App& app, int argc, const char* const* argv);

}  // namespace yoke
