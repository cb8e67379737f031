// A service's definition from meta (docs/config.md, "Definitions in meta"): the levels it is
// written at (project, the env and its parents, host, service), the merge down that chain with
// the file and line that set each field (provenance), the env chain with its cycle and missing
// parent checks, the field-level diff between two effective definitions, and the canonical
// bytes its digest is taken over.
//
// A definition is a `ServicePolicy` (config.proto). Merging: a scalar of a lower level replaces
// the one above; maps (env, properties) merge by key; templates, flags and secrets merge by
// name (the whole entry is replaced); other lists are replaced whole.
//
// Pure: texts come in, values go out; reading meta is the caller's. Thread-safety: free
// functions.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "proto/yoke/config.pb.h"

namespace yoke {

// One level of the chain as read from meta: where it is, and its record's text (text format;
// binary when `path` ends in ".pb", with no line numbers then).
struct DefinitionLevel {
  std::string level;  // "project", "env prod", "host web-1", "service api"
  std::string path;
  std::string text;
  bool env_record = false;  // an EnvRecord (its `definition`), not a ServicePolicy
};

// Where one field of the effective definition was set.
struct FieldOrigin {
  std::string field;  // judge.min_pairs, env["LOG_LEVEL"], flags["beta"]
  std::string value;  // as text; a secret's is never its plaintext (meta holds none)
  std::string path;
  int line = 0;  // 1-based; 0 when unknown (binary record)
  std::string level;
};

struct ResolvedDefinition {
  ServicePolicy definition;          // the effective definition
  std::vector<FieldOrigin> origins;  // one per field, ordered by field
  std::vector<std::string> chain;    // the paths merged, top level first, present ones only
};

// Merges the levels in order (the first is the top: project). A level that does not parse
// fails the whole merge with "<path>:<line>:<column>: ...".
StatusOr<ResolvedDefinition> MergeDefinitions(const std::vector<DefinitionLevel>& levels);

// An env record's text by env name: its path and text, nothing when there is no such record, or
// the error reading it.
struct EnvRecordText {
  std::string path;
  std::string text;
};
using EnvReader = std::function<StatusOr<std::optional<EnvRecordText>>(const std::string& env)>;

// The env records from `env` up through its parents, returned root first, as levels.
// `env` itself may have no record (then it has no level and no parent). A parent with no record
// fails with "<child's path>: parent \"x\" has no record <where>"; a cycle fails naming every
// file in it; a record that does not parse fails with its path and line.
StatusOr<std::vector<DefinitionLevel>> EnvChain(
    const std::string& env, const EnvReader& read,
    const std::function<std::string(const std::string& env)>& path_of);

// Field path -> value text for every set field of an effective definition: the form the diff
// and `yoke meta resolve` compare and print. Secrets and templates are shown by what names them
// plus a digest of their content given by `content_digest` (so a change shows, never the text).
std::map<std::string, std::string> FlattenDefinition(
    const ServicePolicy& definition,
    const std::function<std::string(std::string_view bytes)>& content_digest);

// One changed field between two effective definitions.
struct DefinitionChange {
  std::string field;
  std::string before;            // empty: not set before
  std::string after;             // empty: not set now
  std::string Describe() const;  // flags["beta"]: "off" -> "on"; secrets["db"]: changed
};
std::vector<DefinitionChange> DiffDefinitions(
    const ServicePolicy& before, const ServicePolicy& after,
    const std::function<std::string(std::string_view bytes)>& content_digest);

// The bytes the definition's digest is taken over: deterministic, with live flags' values left
// out (a live flag changes without a candidate), and the judge and mirror overrides too (they
// say how a candidate is judged and apply from the next window; they start no candidate).
std::string CanonicalDefinitionBytes(const ServicePolicy& definition);

// True when the two definitions differ at most in live flags' values (and judge or mirror).
bool OnlyLiveFlagsDiffer(const ServicePolicy& before, const ServicePolicy& after);

// A secret's file in meta, relative to the project: `file`, or secrets/<name>.age.
std::string SecretFileOf(const SecretRef& secret);

// Checks what the merge cannot: names of templates, flags and secrets present and usable as
// file and variable names; a template with a source. One message per problem.
std::vector<std::string> CheckDefinition(const ServicePolicy& definition);

// The version string of a definition-only candidate: <version>+def-<first 12 of digest>, and
// back. A version with no such suffix is its own release. A '-', not a '.', before the digest:
// an artifact's extension is its last dot-part when that starts with a letter, and a digest
// may start with one (core/artifact_name.h).
std::string DefinitionVersion(std::string_view release, std::string_view digest);
std::string ReleaseOf(std::string_view version);
std::string DefinitionTagOf(std::string_view version);  // the 12 hex digits, or ""

}  // namespace yoke
