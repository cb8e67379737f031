#include "meta/definitions.h"

#include "core/artifact_name.h"
#include "meta/digest.h"
#include "meta/layout.h"

namespace yoke::meta {
namespace {

// The level's text at `path` (or its ".pb" twin), if it exists.
StatusOr<std::optional<std::pair<std::string, std::string>>> ReadLevel(const GitStore& store,
                                                                       const std::string& path) {
  YOKE_ASSIGN_OR_RETURN(auto text, store.ReadFile(path));
  if (text) return std::optional(std::make_pair(path, *text));
  const std::string twin = path.substr(0, path.size() - 6) + ".pb";
  YOKE_ASSIGN_OR_RETURN(auto binary, store.ReadFile(twin));
  if (binary) return std::optional(std::make_pair(twin, *binary));
  return std::optional<std::pair<std::string, std::string>>();
}

// The file in meta that set `field`, for a message about it.
std::string WhereSet(const ResolvedDefinition& r, const std::string& field) {
  for (const FieldOrigin& o : r.origins) {
    if (field.starts_with(o.field)) {
      return o.line > 0 ? o.path + ":" + std::to_string(o.line) : o.path;
    }
  }
  return "definition";
}

bool SafeMetaPath(const std::string& path) {
  if (path.empty() || path.front() == '/') return false;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (!IsSafeComponent(path.substr(start, slash - start))) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

}  // namespace

std::string ProjectDefinitionPath(std::string_view project) {
  return std::string(project) + "/definition.txtpb";
}

std::string EnvRecordPath(std::string_view project, std::string_view env) {
  return std::string(project) + "/envs/" + std::string(env) + ".txtpb";
}

std::string HostDefinitionPath(std::string_view project, std::string_view env,
                               std::string_view host) {
  return std::string(project) + "/" + std::string(env) + "/host-definitions/" + std::string(host) +
         ".txtpb";
}

std::string DefinitionDigest(const ServicePolicy& definition) {
  Sha256 hash;
  const std::string bytes = CanonicalDefinitionBytes(definition);
  hash.Update(bytes.data(), bytes.size());
  return hash.HexDigest();
}

std::string ContentDigest(std::string_view bytes) {
  Sha256 hash;
  hash.Update(bytes.data(), bytes.size());
  return hash.HexDigest().substr(0, 12);
}

StatusOr<MetaDefinition> ResolveDefinition(const GitStore& store, const DefinitionPlace& place) {
  for (const std::string& name : {place.project, place.env, place.host, place.service}) {
    if (!IsSafeComponent(name)) {
      return Invalid("\"" + name + "\" cannot be a folder name in meta");
    }
  }
  std::vector<DefinitionLevel> levels;
  YOKE_ASSIGN_OR_RETURN(auto project, ReadLevel(store, ProjectDefinitionPath(place.project)));
  if (project) levels.push_back({"project", project->first, project->second, false});
  auto read_env = [&](const std::string& env) -> StatusOr<std::optional<EnvRecordText>> {
    if (!IsSafeComponent(env)) {
      return Invalid("env \"" + env + "\" cannot be a file name in meta");
    }
    YOKE_ASSIGN_OR_RETURN(auto level, ReadLevel(store, EnvRecordPath(place.project, env)));
    if (!level) return std::optional<EnvRecordText>();
    return std::optional<EnvRecordText>(EnvRecordText{level->first, level->second});
  };
  YOKE_ASSIGN_OR_RETURN(auto envs, EnvChain(place.env, read_env, [&](const std::string& env) {
                          return EnvRecordPath(place.project, env);
                        }));
  levels.insert(levels.end(), envs.begin(), envs.end());
  YOKE_ASSIGN_OR_RETURN(auto host,
                        ReadLevel(store, HostDefinitionPath(place.project, place.env, place.host)));
  if (host) levels.push_back({"host " + place.host, host->first, host->second, false});
  YOKE_ASSIGN_OR_RETURN(auto service,
                        ReadLevel(store, ServicePath(place.project, place.env, place.service)));
  if (service)
    levels.push_back({"service " + place.service, service->first, service->second, false});

  MetaDefinition out;
  out.found = !levels.empty();
  YOKE_ASSIGN_OR_RETURN(out.resolved, MergeDefinitions(levels));
  ServicePolicy& d = out.resolved.definition;
  for (const std::string& problem : CheckDefinition(d)) {
    return Invalid(WhereSet(out.resolved, problem.substr(0, problem.find(':'))) + ": " + problem);
  }
  for (TemplateFile& t : *d.mutable_templates()) {
    const std::string where = WhereSet(out.resolved, "templates[\"" + t.name() + "\"]");
    if (!SafeMetaPath(t.source())) {
      return Invalid(where + ": template source \"" + t.source() + "\" is not a path in meta");
    }
    const std::string path = place.project + "/" + t.source();
    YOKE_ASSIGN_OR_RETURN(auto text, store.ReadFile(path));
    if (!text) return Invalid(where + ": template " + path + " is not in meta");
    t.set_text(*text);
  }
  for (SecretRef& s : *d.mutable_secrets()) {
    const std::string where = WhereSet(out.resolved, "secrets[\"" + s.name() + "\"]");
    const std::string file = SecretFileOf(s);
    if (!SafeMetaPath(file)) {
      return Invalid(where + ": secret file \"" + file + "\" is not a path in meta");
    }
    const std::string path = place.project + "/" + file;
    YOKE_ASSIGN_OR_RETURN(auto bytes, store.ReadFile(path));
    if (!bytes) return Invalid(where + ": secret " + path + " is not in meta");
    s.set_ciphertext(*bytes);
  }
  out.digest = DefinitionDigest(d);
  return out;
}

}  // namespace yoke::meta
