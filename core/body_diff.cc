#include "core/body_diff.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace yoke {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The media type alone: "application/json; charset=utf-8" -> "application/json".
std::string MediaType(std::string_view content_type) {
  std::string out = Lower(content_type.substr(0, content_type.find(';')));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

std::string Truncated(std::string_view s) {
  if (s.size() <= kExampleChars) return std::string(s);
  return std::string(s.substr(0, kExampleChars)) + "...";
}

class Flattener {
 public:
  explicit Flattener(std::map<std::string, JsonNode>& out) : out_(out) {}

  void Walk(element e, const std::string& path, size_t depth) {
    if (out_.size() >= kMaxJsonPaths) {
      out_["(more)"] = {"truncated", ""};
      return;
    }
    switch (e.type()) {
      case element_type::OBJECT: {
        out_[path] = {"object", ""};
        if (depth >= kMaxJsonDepth) return Leaf(e, path, "object");
        simdjson::dom::object object;
        if (e.get_object().get(object)) return;
        for (auto field : object) {
          Walk(field.value, path + "." + std::string(field.key), depth + 1);
        }
        return;
      }
      case element_type::ARRAY: {
        out_[path] = {"array", ""};
        if (depth >= kMaxJsonDepth) return Leaf(e, path, "array");
        size_t i = 0;
        simdjson::dom::array array;
        if (e.get_array().get(array)) return;
        for (element item : array) {
          Walk(item, path + "[" + std::to_string(i++) + "]", depth + 1);
        }
        return;
      }
      case element_type::STRING:
        return Leaf(e, path, "string");
      case element_type::INT64:
      case element_type::UINT64:
      case element_type::DOUBLE:
        return Leaf(e, path, "number");
      case element_type::BOOL:
        return Leaf(e, path, "bool");
      case element_type::NULL_VALUE:
        return Leaf(e, path, "null");
    }
  }

 private:
  void Leaf(element e, const std::string& path, const char* type) {
    out_[path] = {type, simdjson::minify(e)};
  }

  std::map<std::string, JsonNode>& out_;
};

// Whether `path` lies below `parent` ("$.a.b" and "$.a[0]" below "$.a").
bool Below(const std::string& path, const std::string& parent) {
  return path.size() > parent.size() && path.starts_with(parent) &&
         (path[parent.size()] == '.' || path[parent.size()] == '[');
}

}  // namespace

std::string_view BodyDiffKindName(BodyDiffKind kind) {
  switch (kind) {
    case BodyDiffKind::kValueChanged:
      return "value changed";
    case BodyDiffKind::kTypeChanged:
      return "type changed";
    case BodyDiffKind::kFieldMissing:
      return "field missing";
    case BodyDiffKind::kFieldAdded:
      return "field added";
  }
  return "value changed";
}

bool IsJsonContentType(std::string_view content_type) {
  const std::string media = MediaType(content_type);
  return media == "application/json" || media.ends_with("+json");
}

bool IsComparableContentType(std::string_view content_type) {
  return IsJsonContentType(content_type) || MediaType(content_type).starts_with("text/");
}

StatusOr<std::map<std::string, JsonNode>> FlattenJson(std::string_view body) {
  // A parser per call: bodies are sampled, not every request, and this keeps the function
  // free of shared state.
  simdjson::dom::parser parser;
  element root;
  if (auto error = parser.parse(body.data(), body.size()).get(root); error) {
    return Invalid(std::string("not JSON: ") + simdjson::error_message(error));
  }
  std::map<std::string, JsonNode> out;
  Flattener(out).Walk(root, "$", 0);
  return out;
}

std::vector<PathDiff> DiffBodies(std::string_view content_type_a, std::string_view body_a,
                                 std::string_view content_type_b, std::string_view body_b) {
  std::vector<PathDiff> diffs;
  if (MediaType(content_type_a) != MediaType(content_type_b)) {
    diffs.push_back({"(content-type)", BodyDiffKind::kValueChanged, Truncated(content_type_a),
                     Truncated(content_type_b)});
    return diffs;
  }
  auto whole = [&] {
    if (body_a != body_b) {
      diffs.push_back(
          {"(body)", BodyDiffKind::kValueChanged, Truncated(body_a), Truncated(body_b)});
    }
    return diffs;
  };
  if (!IsJsonContentType(content_type_a)) return whole();
  auto a = FlattenJson(body_a);
  auto b = FlattenJson(body_b);
  if (!a || !b) return whole();
  std::string changed_type;  // the last path whose type changed: its paths below are skipped
  auto skip = [&](const std::string& path) {
    return !changed_type.empty() && Below(path, changed_type);
  };
  // Both maps are sorted by path: one merge walk.
  auto ia = a->begin();
  auto ib = b->begin();
  while (ia != a->end() || ib != b->end()) {
    if (ib == b->end() || (ia != a->end() && ia->first < ib->first)) {
      if (!skip(ia->first)) {
        diffs.push_back({ia->first, BodyDiffKind::kFieldMissing, Truncated(ia->second.value), ""});
      }
      ++ia;
    } else if (ia == a->end() || ib->first < ia->first) {
      if (!skip(ib->first)) {
        diffs.push_back({ib->first, BodyDiffKind::kFieldAdded, "", Truncated(ib->second.value)});
      }
      ++ib;
    } else {
      const std::string& path = ia->first;
      if (!skip(path)) {
        if (ia->second.type != ib->second.type) {
          diffs.push_back(
              {path, BodyDiffKind::kTypeChanged,
               Truncated(ia->second.value.empty() ? ia->second.type : ia->second.value),
               Truncated(ib->second.value.empty() ? ib->second.type : ib->second.value)});
          changed_type = path;
        } else if (ia->second.value != ib->second.value) {
          diffs.push_back({path, BodyDiffKind::kValueChanged, Truncated(ia->second.value),
                           Truncated(ib->second.value)});
        }
      }
      ++ia;
      ++ib;
    }
  }
  // A field missing below a missing object is one finding, not one per leaf: keep the topmost.
  std::vector<PathDiff> top;
  for (auto& d : diffs) {
    const bool below_kept =
        !top.empty() && top.back().kind == d.kind &&
        (d.kind == BodyDiffKind::kFieldMissing || d.kind == BodyDiffKind::kFieldAdded) &&
        Below(d.path, top.back().path);
    if (!below_kept) top.push_back(std::move(d));
  }
  return top;
}

namespace {

// `body` with each occurrence of `version` read as "{version}".
std::string WithoutVersion(const std::string& body, const std::string& version) {
  if (version.empty() || body.find(version) == std::string::npos) return body;
  std::string out;
  out.reserve(body.size());
  size_t at = 0;
  for (size_t hit; (hit = body.find(version, at)) != std::string::npos; at = hit + version.size()) {
    out.append(body, at, hit - at).append("{version}");
  }
  out.append(body, at, std::string::npos);
  return out;
}

}  // namespace

SampleDiffs DiffSample(const BodySample& sample) {
  SampleDiffs out;
  out.route = sample.route;
  out.private_values = sample.private_values;
  const std::string running = WithoutVersion(sample.running_body, sample.running_version);
  out.testing = DiffBodies(sample.running_type, running, sample.testing_type,
                           WithoutVersion(sample.testing_body, sample.testing_version));
  out.running = DiffBodies(sample.running_type, running, sample.running_again_type,
                           WithoutVersion(sample.running_again_body, sample.running_version));
  return out;
}

void BodyDiffStats::Record(const SampleDiffs& sample) {
  auto it = routes_.find(sample.route);
  if (it == routes_.end()) {
    if (routes_.size() >= kMaxBodyDiffRoutes) {
      ++dropped_;
      return;
    }
    it = routes_.try_emplace(sample.route).first;
  }
  ++samples_;
  RouteBodyDiffs& route = it->second;
  ++route.samples;
  const auto& testing = sample.testing;
  const auto& running = sample.running;
  auto counts_of = [&](const std::string& path) -> PathDiffCounts* {
    auto p = route.paths.find(path);
    if (p != route.paths.end()) return &p->second;
    if (route.paths.size() >= kMaxBodyDiffPaths) return nullptr;
    return &route.paths[path];
  };
  for (const PathDiff& d : testing) {
    PathDiffCounts* c = counts_of(d.path);
    if (!c) continue;
    if (c->testing++ == 0) {
      c->kind = d.kind;
      c->example = sample.private_values ? "(values withheld: the request carried credentials)"
                                         : "running " + (d.a.empty() ? "(none)" : d.a) +
                                               ", testing " + (d.b.empty() ? "(none)" : d.b);
    }
  }
  for (const PathDiff& d : running) {
    if (PathDiffCounts* c = counts_of(d.path)) ++c->running;
  }
}

}  // namespace yoke
