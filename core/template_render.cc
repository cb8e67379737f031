#include "core/template_render.h"

#include <kainjow/mustache.hpp>
#include <vector>

namespace yoke {
namespace {

struct Tag {
  char kind;  // 0 variable, '#', '^', '/', '!', '>', '=', '&', '{'
  std::string name;
  int line;
};

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(a, b - a + 1));
}

// The tags of `text` with their lines (1-based), in order. Unclosed tags are left to the
// library's parser.
std::vector<Tag> ScanTags(const std::string& text) {
  std::vector<Tag> tags;
  size_t pos = 0;
  int line = 1;
  size_t counted = 0;
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    for (; counted < open; ++counted) line += text[counted] == '\n';
    const bool triple = text.compare(open, 3, "{{{") == 0;
    size_t close = text.find(triple ? "}}}" : "}}", open + (triple ? 3 : 2));
    if (close == std::string::npos) break;
    std::string body = text.substr(open + (triple ? 3 : 2), close - open - (triple ? 3 : 2));
    Tag tag{0, "", line};
    std::string trimmed = Trim(body);
    if (triple) {
      tag.kind = '{';
      tag.name = trimmed;
    } else if (!trimmed.empty() &&
               std::string_view("#^/!>=&").find(trimmed[0]) != std::string_view::npos) {
      tag.kind = trimmed[0];
      tag.name = Trim(std::string_view(trimmed).substr(1));
    } else {
      tag.name = trimmed;
    }
    tags.push_back(tag);
    pos = close + (triple ? 3 : 2);
  }
  return tags;
}

bool Has(const TemplateValues& v, const std::string& name, const std::string& in_group) {
  if (name == ".") return true;
  if (v.values.contains(name) || v.groups.contains(name)) return true;
  auto dot = name.find('.');
  if (dot != std::string::npos) {
    auto g = v.groups.find(name.substr(0, dot));
    return g != v.groups.end() && g->second.contains(name.substr(dot + 1));
  }
  if (!in_group.empty()) {
    auto g = v.groups.find(in_group);
    return g != v.groups.end() && g->second.contains(name);
  }
  return false;
}

std::string Known(const TemplateValues& v) {
  std::string out;
  for (const auto& [k, x] : v.values) out += (out.empty() ? "" : ", ") + k;
  for (const auto& [g, m] : v.groups) {
    for (const auto& [k, x] : m) out += ", " + g + "." + k;
  }
  return out;
}

}  // namespace

StatusOr<std::string> RenderTemplate(std::string_view name, const std::string& text,
                                     const TemplateValues& values) {
  const std::string where(name);
  std::vector<std::string> sections;  // open section names
  for (const Tag& tag : ScanTags(text)) {
    const std::string at = where + ":" + std::to_string(tag.line) + ": ";
    switch (tag.kind) {
      case '!':
        continue;
      case '=':
        return Invalid(at + "delimiter changes ({{=...=}}) are not supported");
      case '>':
        return Invalid(at + "partials ({{> " + tag.name + "}}) are not supported");
      case '/':
        if (!sections.empty()) sections.pop_back();
        continue;
      default:
        break;
    }
    std::string group;
    for (const std::string& s : sections) {
      if (values.groups.contains(s)) group = s;
    }
    if (!Has(values, tag.name, group)) {
      return Invalid(at + "{{" + tag.name + "}} has no value (there are: " + Known(values) + ")");
    }
    if (tag.kind == '#' || tag.kind == '^') sections.push_back(tag.name);
  }
  kainjow::mustache::data data;
  for (const auto& [k, v] : values.values) data.set(k, v);
  for (const auto& [g, m] : values.groups) {
    kainjow::mustache::data group;
    for (const auto& [k, v] : m) group.set(k, v);
    data.set(g, group);
  }
  kainjow::mustache::mustache tmpl(text);
  if (!tmpl.is_valid()) return Invalid(where + ": " + tmpl.error_message());
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  std::string out = tmpl.render(data);
  if (!tmpl.is_valid()) return Invalid(where + ": " + tmpl.error_message());
  return out;
}

bool TemplateUsesGroup(const std::string& text, std::string_view group) {
  const std::string prefix = std::string(group) + ".";
  for (const Tag& tag : ScanTags(text)) {
    if (tag.name == group || tag.name.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace yoke
