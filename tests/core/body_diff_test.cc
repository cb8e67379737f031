#include "core/body_diff.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

const char* kJson = "application/json; charset=utf-8";

// Every node has a path, with its type and (for scalars) its JSON text.
TEST(BodyDiffTest, FlattensJsonToPaths) {
  auto flat = FlattenJson(R"({"a":{"b":[1,"x",null]},"ok":true})");
  ASSERT_TRUE(flat) << flat.error().message();
  EXPECT_EQ(flat->at("$").type, "object");
  EXPECT_EQ(flat->at("$.a.b").type, "array");
  EXPECT_EQ(flat->at("$.a.b[0]").value, "1");
  EXPECT_EQ(flat->at("$.a.b[1]").value, "\"x\"");
  EXPECT_EQ(flat->at("$.a.b[2]").type, "null");
  EXPECT_EQ(flat->at("$.ok").type, "bool");
  EXPECT_FALSE(FlattenJson("{not json"));
}

// Each kind of difference, by path.
TEST(BodyDiffTest, NamesEachKindOfDifference) {
  auto diffs = DiffBodies(kJson, R"({"price":12.5,"name":"a","gone":{"x":1},"n":1})",
                          "application/json", R"({"price":"12.50","name":"b","new":2,"n":1})");
  ASSERT_EQ(diffs.size(), 4u);
  // Sorted by path: $.gone, $.name, $.new, $.price; $.gone.x is not listed below $.gone.
  EXPECT_EQ(diffs[0].path, "$.gone");
  EXPECT_EQ(diffs[0].kind, BodyDiffKind::kFieldMissing);
  EXPECT_EQ(diffs[1].path, "$.name");
  EXPECT_EQ(diffs[1].kind, BodyDiffKind::kValueChanged);
  EXPECT_EQ(diffs[1].a, "\"a\"");
  EXPECT_EQ(diffs[2].path, "$.new");
  EXPECT_EQ(diffs[2].kind, BodyDiffKind::kFieldAdded);
  EXPECT_EQ(diffs[3].path, "$.price");
  EXPECT_EQ(diffs[3].kind, BodyDiffKind::kTypeChanged);
  EXPECT_EQ(diffs[3].b, "\"12.50\"");
}

// An object that became a string is one type change, not one per field it held.
TEST(BodyDiffTest, ATypeChangeHidesThePathsBelowIt) {
  auto diffs = DiffBodies(kJson, R"({"a":{"b":1,"c":2}})", kJson, R"({"a":"flat"})");
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].path, "$.a");
  EXPECT_EQ(diffs[0].kind, BodyDiffKind::kTypeChanged);
}

// Text bodies, bodies that do not parse, and different content types each compare as one path.
TEST(BodyDiffTest, ComparesTextAndContentTypeWhole) {
  EXPECT_TRUE(DiffBodies("text/plain", "a", "text/plain", "a").empty());
  auto text = DiffBodies("text/plain", "a", "text/plain", "b");
  ASSERT_EQ(text.size(), 1u);
  EXPECT_EQ(text[0].path, "(body)");
  auto broken = DiffBodies(kJson, "{", kJson, "{}");
  ASSERT_EQ(broken.size(), 1u);
  EXPECT_EQ(broken[0].path, "(body)");
  auto type = DiffBodies(kJson, "{}", "text/html", "{}");
  ASSERT_EQ(type.size(), 1u);
  EXPECT_EQ(type[0].path, "(content-type)");
  EXPECT_TRUE(IsComparableContentType("application/problem+json"));
  EXPECT_TRUE(IsComparableContentType("Text/HTML; charset=utf-8"));
  EXPECT_FALSE(IsComparableContentType("image/png"));
}

// A body with more paths than kMaxJsonPaths is cut, not grown without bound; values are
// truncated in examples.
TEST(BodyDiffTest, BoundsPathsAndValues) {
  std::string big = "[";
  for (int i = 0; i < 2000; ++i) big += (i ? "," : "") + std::to_string(i);
  big += "]";
  auto flat = FlattenJson(big);
  ASSERT_TRUE(flat);
  EXPECT_LE(flat->size(), kMaxJsonPaths + 1);
  auto diffs = DiffBodies("text/plain", std::string(500, 'a'), "text/plain", std::string(500, 'b'));
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].a.size(), kExampleChars + 3);
}

// Running against itself is counted as the noise of each path; private samples keep no values.
TEST(BodyDiffTest, CountsNoiseAndWithholdsPrivateValues) {
  BodyDiffStats stats;
  BodySample s;
  s.route = "/me";
  s.running_type = s.testing_type = s.running_again_type = kJson;
  s.running_body = R"({"name":"ann","t":1})";
  s.testing_body = R"({"name":"bob","t":2})";
  s.running_again_body = R"({"name":"ann","t":3})";
  s.private_values = true;
  stats.Add(s);
  stats.Add(s);
  const RouteBodyDiffs& r = stats.routes().at("/me");
  EXPECT_EQ(r.samples, 2u);
  EXPECT_EQ(r.paths.at("$.name").testing, 2u);
  EXPECT_EQ(r.paths.at("$.name").running, 0u);
  EXPECT_EQ(r.paths.at("$.t").testing, 2u);
  EXPECT_EQ(r.paths.at("$.t").running, 2u);
  EXPECT_EQ(r.paths.at("$.name").example.find("ann"), std::string::npos);
  EXPECT_NE(r.paths.at("$.name").example.find("withheld"), std::string::npos);
}

// A body that names its own version is not a difference: "hello from 1.1.0" is read as
// "hello from {version}" on both sides.
TEST(BodyDiffTest, ABodyNamingItsVersionIsNotADifference) {
  BodySample s;
  s.route = "/";
  s.running_type = s.testing_type = s.running_again_type = "text/plain";
  s.running_body = s.running_again_body = "hello from 1.0.0, 1.0.0\n";
  s.testing_body = "hello from 1.1.0, 1.1.0\n";
  s.running_version = "1.0.0";
  s.testing_version = "1.1.0";
  SampleDiffs d = DiffSample(s);
  EXPECT_TRUE(d.testing.empty());
  EXPECT_TRUE(d.running.empty());
  s.testing_body = "goodbye from 1.1.0\n";
  EXPECT_EQ(DiffSample(s).testing.size(), 1u);
}

// Routes past kMaxBodyDiffRoutes are dropped and counted.
TEST(BodyDiffTest, BoundsRoutes) {
  BodyDiffStats stats;
  for (size_t i = 0; i < kMaxBodyDiffRoutes + 5; ++i) {
    BodySample s;
    s.route = "/r" + std::to_string(i);
    stats.Add(s);
  }
  EXPECT_EQ(stats.routes().size(), kMaxBodyDiffRoutes);
  EXPECT_EQ(stats.dropped(), 5u);
}

}  // namespace
}  // namespace yoke
