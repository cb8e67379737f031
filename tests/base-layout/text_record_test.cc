#include "base-layout/text_record.h"

#include <gtest/gtest.h>

#include "core/record_text.h"
#include "platform/posix_env.h"
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
  ASSERT_TRUE(WriteTextRecord(*PosixEnv(), dir.path() / "r.txtpb", record));
  InstanceRecord back;
  ASSERT_TRUE(ReadTextRecord(*PosixEnv(), dir.path() / "r.txtpb", &back));
  EXPECT_EQ(back.version(), "1.0.0");
  EXPECT_EQ(back.pid(), 42);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "r.txtpb.tmp"));
}

// A bad record is an error naming the file, line and column, never a crash.
TEST(TextRecordTest, ReportsBadRecordWithLine) {
  testing::TempDir dir;
  testing::WriteAll(dir.path() / "bad.txtpb", "version: \"1\"\npid: \"nope\"\n");
  InstanceRecord record;
  auto st = ReadTextRecord(*PosixEnv(), dir.path() / "bad.txtpb", &record);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("bad.txtpb:2:"), std::string::npos) << st.error().message();
}

// Text read from elsewhere (an archive) parses the same way, its errors named as asked.
TEST(TextRecordTest, ParsesTextWithAGivenName) {
  InstanceRecord record;
  ASSERT_TRUE(ParseTextRecord("a.zip:x.txtpb", "version: \"2\"\n", &record));
  EXPECT_EQ(record.version(), "2");
  auto st = ParseTextRecord("a.zip:x.txtpb", "\nport: -1\n", &record);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message().rfind("a.zip:x.txtpb:2:", 0), 0u) << st.error().message();
}

}  // namespace
}  // namespace yoke
