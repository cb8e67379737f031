#include "supervisor/cli/cli_help.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

namespace yoke {
namespace {

// A bare word is a service's name under the config folder; anything that looks like a path,
// or names a file that exists, stays as given.
TEST(CliHelpTest, ConfigNamesBecomeFilesUnderTheFolder) {
  EXPECT_EQ(ResolveConfigName("hello", "/etc/yoke", false), "/etc/yoke/hello.txtpb");
  EXPECT_EQ(ResolveConfigName("hello", "/etc/yoke", true), "hello");
  EXPECT_EQ(ResolveConfigName("./hello", "/etc/yoke", false), "./hello");
  EXPECT_EQ(ResolveConfigName("hello.txtpb", "/etc/yoke", false), "hello.txtpb");
  EXPECT_EQ(ResolveConfigName("/srv/hello.txtpb", "/etc/yoke", false), "/srv/hello.txtpb");
}

class SuggestionTest : public ::testing::Test {
 protected:
  SuggestionTest() {
    status_ = app_.add_subcommand("status");
    status_->add_option("--config,-c", config_);
    status_->add_flag("--json");
    auto* archive = app_.add_subcommand("archive");
    archive->fallthrough();
    archive->add_option("--config,-c", config_);
    archive->add_subcommand("list")->add_flag("--json");
    app_.add_subcommand("decisions");
  }
  std::optional<std::string> For(std::vector<const char*> args) {
    args.insert(args.begin(), "yoke");
    return SuggestionFor(app_, static_cast<int>(args.size()), args.data());
  }
  CLI::App app_{"yoke"};
  CLI::App* status_ = nullptr;
  std::string config_;
};

// An unknown subcommand or flag names the nearest one; a correct line gives no hint.
TEST_F(SuggestionTest, NamesTheNearestSubcommandOrFlag) {
  EXPECT_EQ(For({"stauts"}).value_or(""),
            "unknown subcommand 'stauts' of 'yoke'; did you mean 'status'?");
  EXPECT_EQ(For({"archive", "lsit"}).value_or(""),
            "unknown subcommand 'lsit' of 'yoke archive'; did you mean 'list'?");
  EXPECT_EQ(For({"status", "--jsno"}).value_or(""),
            "unknown option '--jsno' for 'yoke status'; did you mean '--json'?");
  EXPECT_EQ(For({"status", "--config", "x", "--confg=y"}).value_or(""),
            "unknown option '--confg' for 'yoke status'; did you mean '--config'?");
  // Options of a command fall through to its subcommands.
  EXPECT_FALSE(For({"archive", "list", "--config", "x", "--json"}));
  EXPECT_EQ(For({"frobnicate"}).value_or(""), "unknown subcommand 'frobnicate' of 'yoke'");
  EXPECT_FALSE(For({"status", "--config", "x"}));
}

}  // namespace
}  // namespace yoke
