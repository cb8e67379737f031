#include "supervisor/cli/cli_help.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>

#include "core/suggest.h"

namespace yoke {
namespace {

// The config lookup of a --config or NAME value, as a CLI11 transform.
std::string Resolve(std::string value) {
  if (value.empty()) return value;
  std::error_code ec;
  return ResolveConfigName(value, ConfigDir(), std::filesystem::exists(value, ec));
}

constexpr const char* kNameHelp =
    "the service's name: reads $YOKE_CONFIG_DIR/NAME.txtpb (default /etc/yoke/NAME.txtpb); "
    "or a config file";

// `yoke meta ...` works on a repository (--repo) as often as on a config: $YOKE_CONFIG, set
// for the service commands, does not reach into it.
void Walk(CLI::App& app, bool env) {
  if (CLI::Option* config = app.get_option_no_throw("--config")) {
    if (env) config->envname("YOKE_CONFIG");
    config->transform(Resolve, "", "config name");
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    Walk(*sub, env && sub->get_name() != "meta");
  }
}

// Every spelling of every option of `app` and of the commands above it whose options fall
// through to it.
std::vector<std::string> OptionNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* a = app; a; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options()) {
      for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
      for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
    }
    if (!a->get_fallthrough() && a != app) break;
  }
  return names;
}

const CLI::Option* FindOption(const CLI::App* app, const std::string& name) {
  for (const CLI::App* a = app; a; a = a->get_parent()) {
    if (const CLI::Option* opt = a->get_option_no_throw(name)) return opt;
  }
  return nullptr;
}

std::string CommandName(const CLI::App* app) {
  std::string name;
  for (const CLI::App* a = app; a; a = a->get_parent()) {
    name =
        (a->get_parent() ? a->get_name() : std::string("yoke")) + (name.empty() ? "" : " ") + name;
  }
  return name;
}

}  // namespace

std::string ConfigDir() {
  const char* dir = std::getenv("YOKE_CONFIG_DIR");
  return dir && *dir ? dir : "/etc/yoke";
}

std::string ResolveConfigName(const std::string& value, const std::string& dir, bool exists) {
  if (exists || value.find('/') != std::string::npos || value.ends_with(".txtpb") ||
      value.ends_with(".pb")) {
    return value;
  }
  return (std::filesystem::path(dir) / (value + ".txtpb")).string();
}

void ApplyConfigConventions(CLI::App& app) { Walk(app, /*env=*/true); }

void AddConfigName(CLI::App* command, std::string* path) {
  if (CLI::Option* config = command->get_option_no_throw("--config")) config->required(false);
  command->add_option("name", *path, kNameHelp)->transform(Resolve, "", "config name");
}

std::optional<std::string> SuggestionFor(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* current = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--") break;
    if (word.size() > 1 && word[0] == '-') {
      const std::string name = word.substr(0, word.find('='));
      if (const CLI::Option* opt = FindOption(current, name)) {
        if (opt->get_type_size_max() > 0 && word.find('=') == std::string::npos) ++i;
        continue;
      }
      std::string hint = "unknown option '" + name + "' for '" + CommandName(current) + "'";
      if (auto near = NearestName(name, OptionNames(current))) {
        hint += "; did you mean '" + *near + "'?";
      }
      return hint;
    }
    auto subs = current->get_subcommands([](const CLI::App*) { return true; });
    const CLI::App* next = nullptr;
    std::vector<std::string> names;
    for (const CLI::App* sub : subs) {
      if (sub->check_name(word)) next = sub;
      names.push_back(sub->get_name());
    }
    if (next) {
      current = next;
      continue;
    }
    // A word where a positional argument goes is not a typo of a subcommand.
    bool takes_positional = false;
    for (const CLI::Option* opt : current->get_options()) {
      if (opt->get_positional()) takes_positional = true;
    }
    if (takes_positional || subs.empty()) continue;
    std::string hint = "unknown subcommand '" + word + "' of '" + CommandName(current) + "'";
    if (auto near = NearestName(word, names)) hint += "; did you mean '" + *near + "'?";
    return hint;
  }
  return std::nullopt;
}

}  // namespace yoke
