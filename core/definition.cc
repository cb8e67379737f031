#include "core/definition.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/record_text.h"

namespace yoke {
namespace {

namespace pb = google::protobuf;
using pb::FieldDescriptor;
using pb::TextFormat;

// Parses text format keeping where each field was; binary records have no lines (tree empty).
Status ParseWithLines(const std::string& path, const std::string& text, pb::Message* record,
                      TextFormat::ParseInfoTree* tree) {
  if (path.ends_with(".pb")) return ParseRecord(path, text, record);
  return ParseTextRecord(path, text, record, tree);
}

bool IsKeyedList(const FieldDescriptor* field) {
  return field->is_repeated() && !field->is_map() &&
         field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         field->message_type()->FindFieldByName("name") != nullptr &&
         field->containing_type() == ServicePolicy::descriptor();
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string ScalarText(const pb::Message& m, const FieldDescriptor* f, int index) {
  std::string out;
  TextFormat::PrintFieldValueToString(m, f, index, &out);
  return out;
}

// A repeated field that is not a keyed list, as one value: "[a, b]".
std::string ListText(const pb::Message& m, const FieldDescriptor* f) {
  const pb::Reflection* r = m.GetReflection();
  std::string text;
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    text += (i ? ", " : "") + (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
                                   ? r->GetRepeatedMessage(m, f, i).ShortDebugString()
                                   : ScalarText(m, f, i));
  }
  return "[" + text + "]";
}

std::string NameOf(const pb::Message& element) {
  const FieldDescriptor* name = element.GetDescriptor()->FindFieldByName("name");
  return element.GetReflection()->GetString(element, name);
}

// A keyed entry as one line of text; a secret's ciphertext and a template's text are left out
// (the flattened form adds their digests).
std::string EntryText(const pb::Message& element) {
  std::unique_ptr<pb::Message> copy(element.New());
  copy->CopyFrom(element);
  const pb::Descriptor* d = copy->GetDescriptor();
  for (const char* heavy : {"ciphertext", "text"}) {
    if (const FieldDescriptor* f = d->FindFieldByName(heavy))
      copy->GetReflection()->ClearField(copy.get(), f);
  }
  return copy->ShortDebugString();
}

// Replaces `into`'s field `f` with `from`'s (lists whole).
void CopyOnlyField(const pb::Message& from, const FieldDescriptor* f, pb::Message* into) {
  std::unique_ptr<pb::Message> only(from.New());
  only->CopyFrom(from);
  std::vector<const FieldDescriptor*> all;
  only->GetReflection()->ListFields(*only, &all);
  for (const FieldDescriptor* g : all) {
    if (g != f) only->GetReflection()->ClearField(only.get(), g);
  }
  into->GetReflection()->ClearField(into, f);
  into->MergeFrom(*only);
}

struct Merger {
  std::map<std::string, FieldOrigin> origins;

  void Note(const std::string& field, const std::string& value, const DefinitionLevel& level,
            const TextFormat::ParseInfoTree* tree, const FieldDescriptor* f, int index) {
    int line = 0;
    if (tree) {
      auto loc = tree->GetLocation(f, index);
      if (loc.line >= 0) line = loc.line + 1;
    }
    origins[field] = FieldOrigin{field, value, level.path, line, level.level};
  }

  void Merge(const pb::Message& from, pb::Message* into, const std::string& prefix,
             const DefinitionLevel& level, const TextFormat::ParseInfoTree* tree) {
    const pb::Reflection* rf = from.GetReflection();
    const pb::Reflection* ri = into->GetReflection();
    std::vector<const FieldDescriptor*> fields;
    rf->ListFields(from, &fields);
    for (const FieldDescriptor* f : fields) {
      const std::string name = prefix + f->name();
      if (f->is_map()) {
        const FieldDescriptor* key_f = f->message_type()->map_key();
        const FieldDescriptor* value_f = f->message_type()->map_value();
        for (int i = 0; i < rf->FieldSize(from, f); ++i) {
          const pb::Message& entry = rf->GetRepeatedMessage(from, f, i);
          const std::string key = entry.GetReflection()->GetString(entry, key_f);
          const std::string value = entry.GetReflection()->GetString(entry, value_f);
          // Replace the key's entry, or add one.
          bool replaced = false;
          for (int j = 0; j < ri->FieldSize(*into, f); ++j) {
            pb::Message* mine = ri->MutableRepeatedMessage(into, f, j);
            if (mine->GetReflection()->GetString(*mine, key_f) == key) {
              mine->GetReflection()->SetString(mine, value_f, value);
              replaced = true;
            }
          }
          if (!replaced) ri->AddMessage(into, f)->CopyFrom(entry);
          Note(name + "[" + Quote(key) + "]", Quote(value), level, tree, f, i);
        }
      } else if (IsKeyedList(f)) {
        for (int i = 0; i < rf->FieldSize(from, f); ++i) {
          const pb::Message& element = rf->GetRepeatedMessage(from, f, i);
          const std::string key = NameOf(element);
          bool replaced = false;
          for (int j = 0; j < ri->FieldSize(*into, f); ++j) {
            pb::Message* mine = ri->MutableRepeatedMessage(into, f, j);
            if (NameOf(*mine) == key) {
              mine->CopyFrom(element);
              replaced = true;
            }
          }
          if (!replaced) ri->AddMessage(into, f)->CopyFrom(element);
          Note(name + "[" + Quote(key) + "]", EntryText(element), level, tree, f, i);
        }
      } else if (f->is_repeated()) {
        CopyOnlyField(from, f, into);
        Note(name, ListText(from, f), level, tree, f, 0);
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const TextFormat::ParseInfoTree* nested = tree ? tree->GetTreeForNested(f, -1) : nullptr;
        Merge(rf->GetMessage(from, f), ri->MutableMessage(into, f), name + ".", level, nested);
      } else {
        CopyOnlyField(from, f, into);
        Note(name, ScalarText(from, f, -1), level, tree, f, -1);
      }
    }
  }
};

bool SafeName(std::string_view s) {
  if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

bool EnvVarName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

StatusOr<ResolvedDefinition> MergeDefinitions(const std::vector<DefinitionLevel>& levels) {
  ResolvedDefinition out;
  Merger merger;
  for (const DefinitionLevel& level : levels) {
    TextFormat::ParseInfoTree tree;
    const TextFormat::ParseInfoTree* defs_tree = &tree;
    ServicePolicy definition;
    if (level.env_record) {
      EnvRecord record;
      YOKE_RETURN_IF_ERROR(ParseWithLines(level.path, level.text, &record, &tree));
      definition = record.definition();
      defs_tree = tree.GetTreeForNested(EnvRecord::descriptor()->FindFieldByName("definition"), -1);
    } else {
      YOKE_RETURN_IF_ERROR(ParseWithLines(level.path, level.text, &definition, &tree));
    }
    if (level.path.ends_with(".pb")) defs_tree = nullptr;
    merger.Merge(definition, &out.definition, "", level, defs_tree);
    out.chain.push_back(level.path);
  }
  for (auto& [field, origin] : merger.origins) out.origins.push_back(origin);
  return out;
}

StatusOr<std::vector<DefinitionLevel>> EnvChain(
    const std::string& env, const EnvReader& read,
    const std::function<std::string(const std::string& env)>& path_of) {
  std::vector<DefinitionLevel> chain;  // child first while walking
  std::vector<std::string> seen_envs;
  std::string current = env;
  std::string child_path;
  for (size_t depth = 0;; ++depth) {
    if (std::find(seen_envs.begin(), seen_envs.end(), current) != seen_envs.end()) {
      std::string files;
      bool in_cycle = false;
      for (size_t i = 0; i < seen_envs.size(); ++i) {
        if (seen_envs[i] == current) in_cycle = true;
        if (in_cycle) files += (files.empty() ? "" : " -> ") + chain[i].path;
      }
      return Invalid("env records inherit in a cycle: " + files + " -> " + path_of(current));
    }
    YOKE_ASSIGN_OR_RETURN(std::optional<EnvRecordText> found, read(current));
    if (!found) {
      if (depth == 0) break;  // the env itself has no record: no env level
      return Invalid(child_path + ": parent \"" + current + "\" has no record " + path_of(current));
    }
    EnvRecord record;
    YOKE_RETURN_IF_ERROR(ParseRecord(found->path, found->text, &record));
    seen_envs.push_back(current);
    chain.push_back(DefinitionLevel{"env " + current, found->path, found->text, true});
    if (record.parent().empty()) break;
    child_path = found->path;
    current = record.parent();
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

std::map<std::string, std::string> FlattenDefinition(
    const ServicePolicy& definition,
    const std::function<std::string(std::string_view bytes)>& content_digest) {
  std::map<std::string, std::string> out;
  std::function<void(const pb::Message&, const std::string&)> walk =
      [&](const pb::Message& m, const std::string& prefix) {
        const pb::Reflection* r = m.GetReflection();
        std::vector<const FieldDescriptor*> fields;
        r->ListFields(m, &fields);
        for (const FieldDescriptor* f : fields) {
          const std::string name = prefix + f->name();
          if (f->is_map()) {
            for (int i = 0; i < r->FieldSize(m, f); ++i) {
              const pb::Message& e = r->GetRepeatedMessage(m, f, i);
              const auto* ed = e.GetDescriptor();
              out[name + "[" + Quote(e.GetReflection()->GetString(e, ed->map_key())) + "]"] =
                  Quote(e.GetReflection()->GetString(e, ed->map_value()));
            }
          } else if (IsKeyedList(f)) {
            for (int i = 0; i < r->FieldSize(m, f); ++i) {
              const pb::Message& e = r->GetRepeatedMessage(m, f, i);
              std::string text = EntryText(e);
              if (f->name() == "secrets") {
                text +=
                    " ciphertext " + content_digest(static_cast<const SecretRef&>(e).ciphertext());
              } else if (f->name() == "templates") {
                text += " content " + content_digest(static_cast<const TemplateFile&>(e).text());
              }
              out[name + "[" + Quote(NameOf(e)) + "]"] = text;
            }
          } else if (f->is_repeated()) {
            out[name] = ListText(m, f);
          } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
            walk(r->GetMessage(m, f), name + ".");
          } else {
            out[name] = ScalarText(m, f, -1);
          }
        }
      };
  walk(definition, "");
  return out;
}

std::string DefinitionChange::Describe() const {
  if (field.starts_with("secrets[")) {
    if (before.empty()) return field + ": added";
    if (after.empty()) return field + ": removed";
    return field + ": changed";
  }
  if (field.starts_with("templates[") && !before.empty() && !after.empty()) {
    return field + ": changed";
  }
  return field + ": " + (before.empty() ? "(unset)" : before) + " -> " +
         (after.empty() ? "(unset)" : after);
}

std::vector<DefinitionChange> DiffDefinitions(
    const ServicePolicy& before, const ServicePolicy& after,
    const std::function<std::string(std::string_view bytes)>& content_digest) {
  auto a = FlattenDefinition(before, content_digest);
  auto b = FlattenDefinition(after, content_digest);
  std::vector<DefinitionChange> out;
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  for (const std::string& k : keys) {
    std::string x = a.contains(k) ? a[k] : "";
    std::string y = b.contains(k) ? b[k] : "";
    if (x != y) out.push_back({k, x, y});
  }
  return out;
}

std::string CanonicalDefinitionBytes(const ServicePolicy& definition) {
  ServicePolicy copy = definition;
  // The judge and mirror overrides say how a candidate is judged, not what the service runs
  // with: they apply from the next window, as before definitions, and start no candidate.
  copy.clear_judge();
  copy.clear_mirror();
  for (Flag& flag : *copy.mutable_flags()) {
    if (flag.live()) flag.clear_value();
  }
  // Keyed lists in name order, so the order of levels does not change the digest.
  auto by_name = [](auto* list) {
    std::sort(list->begin(), list->end(),
              [](const auto& x, const auto& y) { return x.name() < y.name(); });
  };
  by_name(copy.mutable_flags());
  by_name(copy.mutable_secrets());
  by_name(copy.mutable_templates());
  std::string out;
  pb::io::StringOutputStream stream(&out);
  {
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&coded);
  }
  return out;
}

bool OnlyLiveFlagsDiffer(const ServicePolicy& before, const ServicePolicy& after) {
  return CanonicalDefinitionBytes(before) == CanonicalDefinitionBytes(after);
}

std::string SecretFileOf(const SecretRef& secret) {
  return secret.file().empty() ? "secrets/" + secret.name() + ".age" : secret.file();
}

std::vector<std::string> CheckDefinition(const ServicePolicy& definition) {
  std::vector<std::string> problems;
  for (const auto& [name, value] : definition.env()) {
    if (!EnvVarName(name)) problems.push_back("env[\"" + name + "\"]: not a variable name");
  }
  for (const TemplateFile& t : definition.templates()) {
    if (!SafeName(t.name())) {
      problems.push_back("templates[\"" + t.name() + "\"]: name must be a plain file name");
    }
    if (t.source().empty()) problems.push_back("templates[\"" + t.name() + "\"]: no source");
  }
  for (const Flag& f : definition.flags()) {
    if (!SafeName(f.name())) problems.push_back("flags[\"" + f.name() + "\"]: not a flag name");
  }
  for (const SecretRef& s : definition.secrets()) {
    if (!SafeName(s.name())) problems.push_back("secrets[\"" + s.name() + "\"]: not a name");
    if (!s.env().empty() && !EnvVarName(s.env())) {
      problems.push_back("secrets[\"" + s.name() + "\"].env: not a variable name");
    }
    if (!s.path().empty() && !SafeName(s.path())) {
      problems.push_back("secrets[\"" + s.name() + "\"].path: must be a plain file name");
    }
  }
  const std::string& sig = definition.live_flags().signal();
  if (sig != "HUP" && sig != "USR1" && sig != "USR2" && sig != "NONE") {
    problems.push_back("live_flags.signal: \"" + sig + "\" is not HUP, USR1, USR2 or NONE");
  }
  if (definition.live_flags().has_file() && !SafeName(definition.live_flags().file())) {
    problems.push_back("live_flags.file: must be a plain file name");
  }
  return problems;
}

std::string DefinitionVersion(std::string_view release, std::string_view digest) {
  return std::string(release) + "+def-" + std::string(digest.substr(0, 12));
}

std::string ReleaseOf(std::string_view version) {
  auto at = version.rfind("+def-");
  return std::string(at == std::string_view::npos ? version : version.substr(0, at));
}

std::string DefinitionTagOf(std::string_view version) {
  auto at = version.rfind("+def-");
  return at == std::string_view::npos ? "" : std::string(version.substr(at + 5));
}

}  // namespace yoke
