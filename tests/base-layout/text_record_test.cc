#include "base-layout/text_record.h"

#include <gtest/gtest.h>

#include "proto/yoke/state.pb.h"
#include "tests/fakes/process_harness.h"
#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

TEST(TextRecordTest, RoundTripsARecord) {
  testing::TempDir dir;
  InstanceRecord record;
  record.set_version("1.0.0");
  record.set_pid(42);
  ASSERT_TRUE(WriteTextRecord(dir.path() / "r.txtpb", record));
  InstanceRecord back;
  ASSERT_TRUE(ReadTextRecord(dir.path() / "r.txtpb", &back));
  EXPECT_EQ(back.version(), "1.0.0");
  EXPECT_EQ(back.pid(), 42);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "r.txtpb.tmp"));
}

// A bad record is an error naming the file, line and column, never a crash.
TEST(TextRecordTest, ReportsBadRecordWithLine) {
  testing::TempDir dir;
  testing::WriteAll(dir.path() / "bad.txtpb", "version: \"1\"\npid: \"nope\"\n");
  InstanceRecord record;
  auto st = ReadTextRecord(dir.path() / "bad.txtpb", &record);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("bad.txtpb:2:"), std::string::npos) << st.error().message();
}

}  // namespace
}  // namespace yoke
