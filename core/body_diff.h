// Diffy-style body comparison: the structural diff of two response bodies (JSON paths whose
// value or type changed, fields missing or added; text bodies as a whole), and the per-route,
// per-path counts the judge's body_diff gate reads, with running-against-running differences as
// the noise baseline. Pure: bodies come in as strings. BodyDiffStats is not thread-safe (the
// owner locks); the free functions are. Memory is bounded by the limits below. The math is in
// docs/judge.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace yoke {

inline constexpr size_t kMaxJsonPaths = 512;       // paths kept of one body; the rest: "(more)"
inline constexpr size_t kMaxJsonDepth = 32;        // deeper values compare as one leaf
inline constexpr size_t kExampleChars = 40;        // an example value is cut to this
inline constexpr size_t kMaxBodyDiffRoutes = 100;  // routes with body counts; more are ignored
inline constexpr size_t kMaxBodyDiffPaths = 64;    // differing paths kept per route

// One node of a JSON document: its type ("object", "array", "string", "number", "bool",
// "null") and, for scalars, its value as JSON text.
struct JsonNode {
  std::string type;
  std::string value;
};

// Every node by path: "$" the root, "$.price", "$.tags[0]", "$.items[2].id". At most
// kMaxJsonPaths. Fails on a body that is not JSON.
StatusOr<std::map<std::string, JsonNode>> FlattenJson(std::string_view body);

enum class BodyDiffKind { kValueChanged, kTypeChanged, kFieldMissing, kFieldAdded };
std::string_view BodyDiffKindName(BodyDiffKind kind);  // "value changed", ...

struct PathDiff {
  std::string path;
  BodyDiffKind kind = BodyDiffKind::kValueChanged;
  std::string a;  // the value in the first body (truncated), empty when missing
  std::string b;  // ...in the second
};

// Whether a content type's bodies are compared: JSON (application/json, +json) and text/*.
bool IsComparableContentType(std::string_view content_type);
bool IsJsonContentType(std::string_view content_type);

// The differences between two answers to one request. JSON bodies (by content type) path by
// path; a body that does not parse as JSON, and text bodies, as the one path "(body)"; a
// different content type as the path "(content-type)". Below a type change, the paths of the
// changed node are not listed again.
std::vector<PathDiff> DiffBodies(std::string_view content_type_a, std::string_view body_a,
                                 std::string_view content_type_b, std::string_view body_b);

// One sampled request: running's answer, testing's, and running's answer to a second copy.
struct BodySample {
  std::string route;
  std::string running_type, testing_type, running_again_type;  // Content-Type
  std::string running_body, testing_body, running_again_body;
  // The request carried credentials (kept for the copies): no value of it is ever kept as an
  // example.
  bool private_values = false;
  // Each side's version: a body that names its own version ("hello from 1.1.0", /version) is
  // not a difference, so each occurrence is read as "{version}" before comparing.
  std::string running_version, testing_version;
};

// How often one path differed on a route: between running and testing, and between running
// and itself (the noise baseline).
struct PathDiffCounts {
  uint64_t testing = 0;  // samples where running and testing differed on the path
  uint64_t running = 0;  // samples where running and running again differed on it
  BodyDiffKind kind = BodyDiffKind::kValueChanged;  // the first running/testing difference
  std::string example;  // "running 12.5, testing \"12.50\"" (truncated), or why none
};

struct RouteBodyDiffs {
  uint64_t samples = 0;
  std::map<std::string, PathDiffCounts> paths;  // at most kMaxBodyDiffPaths
};

// One sample's differences: running against testing, and running against itself.
struct SampleDiffs {
  std::string route;
  std::vector<PathDiff> testing;
  std::vector<PathDiff> running;
  bool private_values = false;
};
SampleDiffs DiffSample(const BodySample& sample);

class BodyDiffStats {
 public:
  void Add(const BodySample& sample) { Record(DiffSample(sample)); }
  void Record(const SampleDiffs& diffs);
  const std::map<std::string, RouteBodyDiffs>& routes() const { return routes_; }
  uint64_t samples() const { return samples_; }
  uint64_t dropped() const { return dropped_; }  // samples of routes past the limit

 private:
  std::map<std::string, RouteBodyDiffs> routes_;
  uint64_t samples_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace yoke
