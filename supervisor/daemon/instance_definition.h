// What meta's definition adds to an instance as it starts (docs/config.md, "Definitions in
// meta"): the version's effective definition is read from the base (state/definitions/
// <version>.txtpb, written by meta before the version reached the intake); its env vars and
// flags (YOKE_FLAG_<NAME>) go to the instance's environment, its properties into the instance's
// properties file, its flags into the flags file, its secrets are decrypted with age (into the
// environment or into 0600 files), and its templates are rendered into the instance folder.
// Any problem fails the start with a message naming the template (and line) or the secret and
// the reason, never a secret's plaintext.
// Thread-safety: free functions; the supervisor loop calls them.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/env.h"
#include "core/status.h"
#include "proto/yoke/config.pb.h"

namespace yoke {

struct InstanceFacts {
  std::string version;  // as the base names it (1.2.0, or 1.2.0+def-<digest> for a definition)
  std::string role;
  uint16_t port = 0;
  std::filesystem::path dir;
  std::string service, env, host, channel;
  std::string properties_file;  // the instance's copy (a file name in dir); empty: none
};

struct DefinitionStart {
  bool found = false;                      // the version has a definition
  std::map<std::string, std::string> env;  // for the instance's environment
  std::set<std::string> secret_vars;       // names in `env` whose values are secrets
};

// The version's definition in the base, if it has one. A file that does not parse is an error.
StatusOr<std::optional<ServicePolicy>> ReadVersionDefinition(Env& env,
                                                             const std::filesystem::path& base,
                                                             const std::string& version);

// Applies the version's definition to the starting instance's folder and returns what goes into
// its environment.
StatusOr<DefinitionStart> ApplyDefinition(Env& env, const std::filesystem::path& base,
                                          const InstanceFacts& facts,
                                          const SecretsSettings& secrets);

// The flags file's text: `name=value` per flag, by name.
std::string FlagsFileText(const ServicePolicy& definition);

// YOKE_FLAG_<NAME>: the flag's name upper-cased, other characters as '_'.
std::string FlagVariable(const std::string& name);

}  // namespace yoke
