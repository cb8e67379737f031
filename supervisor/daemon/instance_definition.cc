#include "supervisor/daemon/instance_definition.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "base-layout/paths.h"
#include "base-layout/secret_files.h"
#include "core/definition.h"
#include "core/properties.h"
#include "core/record_text.h"
#include "core/template_render.h"
#include "platform/age.h"

namespace yoke {
namespace fs = std::filesystem;

std::string FlagVariable(const std::string& name) {
  std::string out = "YOKE_FLAG_";
  for (char c : name) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

std::string FlagsFileText(const ServicePolicy& definition) {
  std::vector<const Flag*> flags;
  for (const Flag& f : definition.flags()) flags.push_back(&f);
  std::sort(flags.begin(), flags.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
  std::string out;
  for (const Flag* f : flags) out += f->name() + "=" + f->value() + "\n";
  return out;
}

StatusOr<std::optional<ServicePolicy>> ReadVersionDefinition(Env& env, const fs::path& base,
                                                             const std::string& version) {
  const fs::path file = base_paths::DefinitionFile(base, version);
  auto text = env.ReadFile(file);
  if (!text) {
    if (text.error().is(ErrorCode::kNotFound)) return std::optional<ServicePolicy>();
    return std::unexpected(text.error());
  }
  ServicePolicy definition;
  YOKE_RETURN_IF_ERROR(ParseTextRecord(file.string(), *text, &definition));
  return std::optional<ServicePolicy>(std::move(definition));
}

StatusOr<DefinitionStart> ApplyDefinition(Env& env, const fs::path& base,
                                          const InstanceFacts& facts,
                                          const SecretsSettings& secrets) {
  DefinitionStart out;
  YOKE_ASSIGN_OR_RETURN(auto found, ReadVersionDefinition(env, base, facts.version));
  if (!found) return out;
  out.found = true;
  const ServicePolicy& d = *found;
  for (const std::string& problem : CheckDefinition(d)) return Invalid("definition: " + problem);

  for (const auto& [k, v] : d.env()) out.env[k] = v;
  for (const Flag& f : d.flags()) out.env[FlagVariable(f.name())] = f.value();
  out.env["YOKE_DEFINITION"] = DefinitionTagOf(facts.version);

  // Properties: into the instance's copy of the properties file, or a file of their own.
  if (d.properties_size() > 0) {
    const std::string name =
        facts.properties_file.empty() ? "definition.properties" : facts.properties_file;
    std::string text;
    if (!facts.properties_file.empty()) {
      YOKE_ASSIGN_OR_RETURN(text, env.ReadFile(facts.dir / name));
    }
    std::map<std::string, std::string> sorted(d.properties().begin(), d.properties().end());
    for (const auto& [k, v] : sorted) text = SetPropertyValue(text, k, v);
    YOKE_RETURN_IF_ERROR(env.WriteFileAtomic(facts.dir / name, text));
  }
  if (d.flags_size() > 0) {
    YOKE_RETURN_IF_ERROR(env.WriteFileAtomic(facts.dir / d.live_flags().file(), FlagsFileText(d)));
  }

  // Secrets: decrypted with the host's identity, each into the environment or a 0600 file.
  TemplateValues values;
  if (d.secrets_size() > 0) {
    if (secrets.identity_file().empty()) {
      return Invalid("the definition names secrets (" + d.secrets(0).name() +
                     ", ...) but the config has no secrets { identity_file }");
    }
    AgeOptions age;
    if (!secrets.age_binary().empty()) age.binary = secrets.age_binary();
    for (const SecretRef& s : d.secrets()) {
      auto plain = AgeDecrypt(secrets.identity_file(), s.ciphertext(), age);
      if (!plain) {
        return Fail("secret " + s.name() + " (" + SecretFileOf(s) +
                    " in meta): " + plain.error().message());
      }
      if (!s.env().empty()) {
        out.env[s.env()] = *plain;
        out.secret_vars.insert(s.env());
      }
      if (!s.path().empty() || s.env().empty()) {
        const std::string file = s.path().empty() ? s.name() + ".secret" : s.path();
        YOKE_RETURN_IF_ERROR(WriteSecretFile(env, facts.dir, file, *plain));
      }
      values.groups["secrets"][s.name()] = std::move(*plain);
    }
  }

  // Templates, with the instance's values.
  values.values = {{"port", std::to_string(facts.port)},
                   {"instance_dir", facts.dir.string()},
                   {"version", ReleaseOf(facts.version)},
                   {"definition", DefinitionTagOf(facts.version)},
                   {"role", facts.role},
                   {"service", facts.service},
                   {"env", facts.env},
                   {"host", facts.host},
                   {"channel", facts.channel}};
  for (const Flag& f : d.flags()) values.groups["flags"][f.name()] = f.value();
  for (const auto& [k, v] : d.env()) values.groups["vars"][k] = v;
  for (const TemplateFile& t : d.templates()) {
    auto rendered = RenderTemplate(t.source(), t.text(), values);
    if (!rendered) return Invalid("template " + t.name() + ": " + rendered.error().message());
    if (TemplateUsesGroup(t.text(), "secrets")) {
      YOKE_RETURN_IF_ERROR(WriteSecretFile(env, facts.dir, t.name(), *rendered));
    } else {
      YOKE_RETURN_IF_ERROR(env.WriteFileAtomic(facts.dir / t.name(), *rendered));
    }
  }
  // The definition the instance started with, for the operator (no plaintext: ciphertext only).
  ServicePolicy shown = d;
  for (SecretRef& s : *shown.mutable_secrets()) s.clear_ciphertext();
  for (TemplateFile& t : *shown.mutable_templates()) t.clear_text();
  if (auto text = PrintTextRecord(shown)) {
    (void)env.WriteFileAtomic(facts.dir / "definition.txtpb", *text);
  }
  return out;
}

}  // namespace yoke
