#include "supervisor/cli/ops_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace yoke {
namespace {

namespace json = boost::json;

// Decision lists keep the order given (newest first) and each record whole; an unreadable
// record carries its error instead.
TEST(OpsJsonTest, DecisionListKeepsRecordsAndProblems) {
  DecisionListing listing;
  DecisionEntry good;
  good.id = "20261122T031055Z-1.0.0-to-2.0.0";
  good.path = "/b/decisions/" + good.id + ".txtpb";
  good.decision.set_verdict(Verdict::REJECT);
  good.decision.set_to_version("2.0.0");
  good.decision.add_gates()->set_name("5xx");
  DecisionEntry bad;
  bad.id = "20261122T020000Z-none-to-1.0.0";
  bad.problem = "x.txtpb:3:1: error";
  listing.entries = {good, bad};
  listing.total = 7;
  json::value v = json::parse(DecisionListJson("/b/decisions", listing));
  EXPECT_EQ(v.at("total").to_number<int>(), 7);
  const json::array& list = v.at("decisions").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("id").as_string(), good.id);
  EXPECT_EQ(list[0].at("decision").at("verdict").as_string(), "REJECT");
  EXPECT_EQ(list[0].at("decision").at("gates").as_array()[0].at("name").as_string(), "5xx");
  EXPECT_EQ(list[1].at("error").as_string(), "x.txtpb:3:1: error");
  EXPECT_EQ(json::parse(DecisionJson(good)).at("decision").at("to_version").as_string(), "2.0.0");
}

// Archives and versions: sizes in bytes, times in UTC, roles marked.
TEST(OpsJsonTest, ArchivesAndVersions) {
  std::vector<ArchiveRow> rows = {{"hello-2.0.0.zip", "2.0.0", 2048, 1'764'470'000'000'000'000},
                                  {"hello-1.0.0.zip", "1.0.0", 10, 0}};
  json::value a = json::parse(ArchiveListJson(rows));
  ASSERT_EQ(a.at("archives").as_array().size(), 2u);
  EXPECT_EQ(a.at("archives").as_array()[0].at("size_bytes").to_number<int>(), 2048);
  EXPECT_EQ(a.at("archives").as_array()[1].at("archived").as_string(), "1970-01-01T00:00:00Z");
  VersionRow version{
      "3.0.0", "hello-3.0.0.sh", {{"0001-testing", 20001, 42, "alive", "", "testing"}}};
  json::value v = json::parse(VersionsJson("/b", {version}, rows));
  EXPECT_EQ(v.at("base").as_string(), "/b");
  const json::value& instance = v.at("versions").as_array()[0].at("instances").as_array()[0];
  EXPECT_EQ(instance.at("role").as_string(), "testing");
  EXPECT_EQ(instance.at("port").to_number<int>(), 20001);
  EXPECT_FALSE(instance.as_object().contains("error"));
}

}  // namespace
}  // namespace yoke
