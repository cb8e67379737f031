#include "supervisor/cli/cli_wait.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

DecisionEntry Entry(std::string id, Verdict verdict, std::string to) {
  DecisionEntry e;
  e.id = std::move(id);
  e.decision.set_verdict(verdict);
  e.decision.set_to_version(std::move(to));
  return e;
}

// The newest PROMOTE, REJECT or SUPERSEDE of the version settles it; decisions of an earlier
// try (stale), of other versions, pins and unreadable records do not.
TEST(CliWaitTest, SettlingDecisionIsTheNewestVerdictOfTheVersion) {
  DecisionListing listing;
  listing.entries = {Entry("5", Verdict::PIN, "2.0.0"), Entry("4", Verdict::REJECT, "3.0.0"),
                     Entry("3", Verdict::PROMOTE, "2.0.0"), Entry("2", Verdict::REJECT, "2.0.0")};
  DecisionEntry broken;
  broken.id = "6";
  broken.problem = "6.txtpb:1:1: bad";
  listing.entries.insert(listing.entries.begin(), broken);
  const DecisionEntry* found = SettlingDecision(listing, "2.0.0", {});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->id, "3");
  found = SettlingDecision(listing, "2.0.0", {"3"});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->id, "2");
  EXPECT_EQ(SettlingDecision(listing, "2.0.0", {"2", "3"}), nullptr);
  EXPECT_EQ(SettlingDecision(listing, "9.9.9", {}), nullptr);
  listing.entries.push_back(Entry("1", Verdict::SUPERSEDE, "1.5.0"));
  found = SettlingDecision(listing, "1.5.0", {});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->decision.verdict(), Verdict::SUPERSEDE);
}

}  // namespace
}  // namespace yoke
