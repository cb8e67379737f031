#include "core/definition.h"

#include <gtest/gtest.h>

#include <map>

namespace yoke {
namespace {

std::string Digest(std::string_view bytes) { return "d" + std::to_string(bytes.size()); }

const FieldOrigin* Origin(const ResolvedDefinition& r, const std::string& field) {
  for (const FieldOrigin& o : r.origins) {
    if (o.field == field) return &o;
  }
  return nullptr;
}

// Four levels: each field's value and file:line come from the lowest level that sets it.
TEST(DefinitionTest, MergesFourLevelsWithProvenance) {
  std::vector<DefinitionLevel> levels = {
      {"project", "acme/definition.txtpb",
       "env { key: \"LOG\" value: \"info\" }\n"
       "env { key: \"REGION\" value: \"eu\" }\n"
       "judge { min_pairs: 100 }\n",
       false},
      {"env prod", "acme/envs/prod.txtpb",
       "parent: \"base\"\n"
       "definition {\n"
       "  env { key: \"LOG\" value: \"warn\" }\n"
       "  flags { name: \"beta\" value: \"off\" }\n"
       "}\n",
       true},
      {"host web-1", "acme/prod/host-definitions/web-1.txtpb",
       "properties { key: \"threads\" value: \"8\" }\n", false},
      {"service api", "acme/prod/services/api.txtpb",
       "\n\nflags { name: \"beta\" value: \"on\" }\njudge { min_window_s: 5 }\n", false},
  };
  auto r = MergeDefinitions(levels);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const ServicePolicy& d = r->definition;
  EXPECT_EQ(d.env().at("LOG"), "warn");
  EXPECT_EQ(d.env().at("REGION"), "eu");
  EXPECT_EQ(d.properties().at("threads"), "8");
  ASSERT_EQ(d.flags_size(), 1);
  EXPECT_EQ(d.flags(0).value(), "on");
  EXPECT_EQ(d.judge().min_pairs(), 100u);
  EXPECT_EQ(d.judge().min_window_s(), 5u);
  EXPECT_EQ(r->chain.size(), 4u);

  const FieldOrigin* log = Origin(*r, "env[\"LOG\"]");
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->path, "acme/envs/prod.txtpb");
  EXPECT_EQ(log->line, 3);
  EXPECT_EQ(log->value, "\"warn\"");
  const FieldOrigin* region = Origin(*r, "env[\"REGION\"]");
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(region->path, "acme/definition.txtpb");
  EXPECT_EQ(region->line, 2);
  const FieldOrigin* beta = Origin(*r, "flags[\"beta\"]");
  ASSERT_NE(beta, nullptr);
  EXPECT_EQ(beta->path, "acme/prod/services/api.txtpb");
  EXPECT_EQ(beta->line, 3);
  const FieldOrigin* window = Origin(*r, "judge.min_window_s");
  ASSERT_NE(window, nullptr);
  EXPECT_EQ(window->line, 4);
  const FieldOrigin* pairs = Origin(*r, "judge.min_pairs");
  ASSERT_NE(pairs, nullptr);
  EXPECT_EQ(pairs->path, "acme/definition.txtpb");
  EXPECT_EQ(pairs->line, 3);
  const FieldOrigin* threads = Origin(*r, "properties[\"threads\"]");
  ASSERT_NE(threads, nullptr);
  EXPECT_EQ(threads->level, "host web-1");
}

// A level that does not parse fails the merge with its path and line.
TEST(DefinitionTest, BadRecordNamesPathAndLine) {
  auto r = MergeDefinitions({{"service api", "acme/prod/services/api.txtpb",
                              "env { key: \"A\" value: \"1\" }\nnot_a_field: 3\n", false}});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("acme/prod/services/api.txtpb:2:"), std::string::npos)
      << r.error().message();
}

struct FakeEnvs {
  std::map<std::string, std::string> records;
  EnvReader reader() {
    return [this](const std::string& env) -> StatusOr<std::optional<EnvRecordText>> {
      auto it = records.find(env);
      if (it == records.end()) return std::optional<EnvRecordText>();
      return std::optional<EnvRecordText>(EnvRecordText{"acme/envs/" + env + ".txtpb", it->second});
    };
  }
};
std::string PathOf(const std::string& env) { return "acme/envs/" + env + ".txtpb"; }

// Parents to any depth come root first.
TEST(DefinitionTest, EnvChainRootFirst) {
  FakeEnvs envs;
  envs.records["base"] = "definition { env { key: \"A\" value: \"base\" } }";
  envs.records["staging"] = "parent: \"base\"";
  envs.records["prod"] = "parent: \"staging\"\ndefinition { env { key: \"A\" value: \"prod\" } }";
  auto chain = EnvChain("prod", envs.reader(), PathOf);
  ASSERT_TRUE(chain.has_value()) << chain.error().message();
  ASSERT_EQ(chain->size(), 3u);
  EXPECT_EQ((*chain)[0].path, "acme/envs/base.txtpb");
  EXPECT_EQ((*chain)[2].path, "acme/envs/prod.txtpb");
  auto merged = MergeDefinitions(*chain);
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->definition.env().at("A"), "prod");
}

// An env with no record has no level; that is not an error.
TEST(DefinitionTest, EnvWithoutRecordIsEmpty) {
  FakeEnvs envs;
  auto chain = EnvChain("prod", envs.reader(), PathOf);
  ASSERT_TRUE(chain.has_value());
  EXPECT_TRUE(chain->empty());
}

// A missing parent is refused naming the child's file and the missing one.
TEST(DefinitionTest, MissingParentNamesFiles) {
  FakeEnvs envs;
  envs.records["prod"] = "parent: \"stagin\"";
  auto chain = EnvChain("prod", envs.reader(), PathOf);
  ASSERT_FALSE(chain.has_value());
  EXPECT_EQ(chain.error().message(),
            "acme/envs/prod.txtpb: parent \"stagin\" has no record acme/envs/stagin.txtpb");
}

// A cycle is refused naming every file in it.
TEST(DefinitionTest, CycleNamesFiles) {
  FakeEnvs envs;
  envs.records["prod"] = "parent: \"a\"";
  envs.records["a"] = "parent: \"b\"";
  envs.records["b"] = "parent: \"a\"";
  auto chain = EnvChain("prod", envs.reader(), PathOf);
  ASSERT_FALSE(chain.has_value());
  EXPECT_EQ(chain.error().message(),
            "env records inherit in a cycle: acme/envs/a.txtpb -> acme/envs/b.txtpb -> "
            "acme/envs/a.txtpb");
}

// A bad env record fails with its path and line.
TEST(DefinitionTest, BadEnvRecord) {
  FakeEnvs envs;
  envs.records["prod"] = "parent: \"base\"";
  envs.records["base"] = "\nparent: 3 3";
  auto chain = EnvChain("prod", envs.reader(), PathOf);
  ASSERT_FALSE(chain.has_value());
  EXPECT_NE(chain.error().message().find("acme/envs/base.txtpb:2:"), std::string::npos);
}

// The diff names fields; a secret's change never shows its ciphertext.
TEST(DefinitionTest, DiffNamesFieldsAndHidesSecrets) {
  ServicePolicy a, b;
  (*a.mutable_env())["LOG"] = "info";
  (*b.mutable_env())["LOG"] = "debug";
  auto* s1 = a.add_secrets();
  s1->set_name("db");
  s1->set_ciphertext("AAAA");
  auto* s2 = b.add_secrets();
  s2->set_name("db");
  s2->set_ciphertext("BBBBBB");
  auto* f = b.add_flags();
  f->set_name("beta");
  f->set_value("on");
  auto changes = DiffDefinitions(a, b, Digest);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].Describe(), "env[\"LOG\"]: \"info\" -> \"debug\"");
  EXPECT_EQ(changes[1].Describe(), "flags[\"beta\"]: (unset) -> name: \"beta\" value: \"on\"");
  EXPECT_EQ(changes[2].Describe(), "secrets[\"db\"]: changed");
  for (const auto& c : changes) {
    EXPECT_EQ(c.Describe().find("BBBB"), std::string::npos);
  }
}

// The digest ignores level order of keyed lists, live flags' values and the judge's settings,
// not other values.
TEST(DefinitionTest, CanonicalBytes) {
  ServicePolicy a, b;
  auto add = [](ServicePolicy* p, const char* name, const char* value, bool live) {
    Flag* f = p->add_flags();
    f->set_name(name);
    f->set_value(value);
    f->set_live(live);
  };
  add(&a, "x", "1", false);
  add(&a, "kill", "off", true);
  add(&b, "kill", "on", true);
  add(&b, "x", "1", false);
  EXPECT_EQ(CanonicalDefinitionBytes(a), CanonicalDefinitionBytes(b));
  EXPECT_TRUE(OnlyLiveFlagsDiffer(a, b));
  b.mutable_judge()->set_min_pairs(5);  // how it is judged: no candidate
  EXPECT_EQ(CanonicalDefinitionBytes(a), CanonicalDefinitionBytes(b));
  b.mutable_flags(1)->set_value("2");
  EXPECT_NE(CanonicalDefinitionBytes(a), CanonicalDefinitionBytes(b));
}

TEST(DefinitionTest, DefinitionVersions) {
  EXPECT_EQ(DefinitionVersion("1.2.0", "0123456789abcdef"), "1.2.0+def-0123456789ab");
  EXPECT_EQ(ReleaseOf("1.2.0+def-0123456789ab"), "1.2.0");
  EXPECT_EQ(ReleaseOf("1.2.0"), "1.2.0");
  EXPECT_EQ(DefinitionTagOf("1.2.0+def-0123456789ab"), "0123456789ab");
  EXPECT_EQ(DefinitionTagOf("1.2.0"), "");
}

// Names that become files and variables are checked.
TEST(DefinitionTest, ChecksNames) {
  ServicePolicy d;
  (*d.mutable_env())["1BAD"] = "x";
  d.add_templates()->set_name("../etc/passwd");
  auto* s = d.add_secrets();
  s->set_name("db");
  s->set_path("a/b");
  d.mutable_live_flags()->set_signal("KILL");
  auto problems = CheckDefinition(d);
  EXPECT_EQ(problems.size(), 5u);
}

}  // namespace
}  // namespace yoke
