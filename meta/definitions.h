// A service's definition as meta holds it (docs/config.md, "Definitions in meta"): where each
// level lives, reading the chain at the branch tip (project -> env's parents -> env -> host ->
// service), the templates' text and the secrets' ciphertext filled in, and its digest.
//
//   <project>/definition.txtpb                          project level (a ServicePolicy)
//   <project>/envs/<env>.txtpb                          env level (an EnvRecord, with `parent`)
//   <project>/<env>/host-definitions/<host>.txtpb       host level
//   <project>/<env>/services/<service>.txtpb            service level (the existing record)
//   <project>/templates/..., <project>/secrets/<name>.age   files the definition names
//
// Thread-safety: as GitStore's.
#pragma once

#include <string>

#include "core/definition.h"
#include "core/status.h"
#include "meta/git_store.h"

namespace yoke::meta {

std::string ProjectDefinitionPath(std::string_view project);
std::string EnvRecordPath(std::string_view project, std::string_view env);
std::string HostDefinitionPath(std::string_view project, std::string_view env,
                               std::string_view host);

struct DefinitionPlace {
  std::string project, env, host, service;
};

// The effective definition at the tip, with provenance, templates' text and secrets'
// ciphertext read. Fails (naming the files) on a record that does not parse, a missing parent
// env, a cycle, a name that cannot be used, or a template or secret file that is not in meta.
// `found` is false when no level exists at all (no definition: the config alone applies).
struct MetaDefinition {
  ResolvedDefinition resolved;
  bool found = false;
  std::string digest;  // sha256 hex of CanonicalDefinitionBytes
};
StatusOr<MetaDefinition> ResolveDefinition(const GitStore& store, const DefinitionPlace& place);

std::string DefinitionDigest(const ServicePolicy& definition);
// The first 12 hex digits of the sha256 of `bytes`: how a secret's ciphertext or a template's
// text shows in diffs and `yoke meta resolve`.
std::string ContentDigest(std::string_view bytes);

}  // namespace yoke::meta
