#include "core/template_render.h"

#include <gtest/gtest.h>

namespace yoke {
namespace {

TemplateValues Values() {
  TemplateValues v;
  v.values = {{"port", "20001"}, {"version", "1.2.0"}, {"host", "web-1"}};
  v.groups["flags"] = {{"beta", "on"}};
  v.groups["secrets"] = {{"db", "p<&>w"}};
  return v;
}

// Values, dotted groups and sections render; nothing is HTML-escaped.
TEST(TemplateRenderTest, Renders) {
  auto out =
      RenderTemplate("app.conf",
                     "listen={{port}}\nv={{version}}\n{{#flags.beta}}beta=yes\n{{/flags.beta}}"
                     "db={{secrets.db}}\n{{! a comment }}",
                     Values());
  ASSERT_TRUE(out.has_value()) << out.error().message();
  EXPECT_EQ(*out, "listen=20001\nv=1.2.0\nbeta=yes\ndb=p<&>w\n");
}

// A missing value fails with the template's name and line, never an empty string.
TEST(TemplateRenderTest, MissingValueNamesLine) {
  auto out = RenderTemplate("acme/templates/app.conf", "a={{port}}\n\nb={{db_host}}\n", Values());
  ASSERT_FALSE(out.has_value());
  EXPECT_TRUE(out.error().message().starts_with(
      "acme/templates/app.conf:3: {{db_host}} has no value (there are: host, port, version"))
      << out.error().message();
  auto flag = RenderTemplate("t", "{{flags.gamma}}", Values());
  ASSERT_FALSE(flag.has_value());
  EXPECT_EQ(flag.error().message().find("t:1: {{flags.gamma}} has no value"), 0u);
}

// A malformed template fails with the library's reason; delimiter changes are refused.
TEST(TemplateRenderTest, BadTemplates) {
  EXPECT_FALSE(RenderTemplate("t", "{{#flags}}x", Values()).has_value());
  auto delim = RenderTemplate("t", "{{=<% %>=}}", Values());
  ASSERT_FALSE(delim.has_value());
  EXPECT_NE(delim.error().message().find("not supported"), std::string::npos);
}

TEST(TemplateRenderTest, UsesGroup) {
  EXPECT_TRUE(TemplateUsesGroup("x={{secrets.db}}", "secrets"));
  EXPECT_FALSE(TemplateUsesGroup("x={{port}}", "secrets"));
}

}  // namespace
}  // namespace yoke
