// A definition read from a real meta repository: four levels with the file and line of each
// field, the templates' text and secrets' ciphertext filled in, the digest, and the records
// that keep a host from resolving one (named with their files).
#include "meta/definitions.h"

#include <gtest/gtest.h>

#include "tests/fakes/temp_dir.h"

namespace yoke {
namespace {

using testing::TempDir;

const meta::Author kAlice{"alice", "alice@example.com"};

class DefinitionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = meta::GitStore::OpenOrInit((dir_.path() / "m").string(), "main", true);
    ASSERT_TRUE(store) << store.error().message();
    store_ = std::move(*store);
  }
  void Put(std::vector<meta::FileChange> files) {
    auto c = store_->Commit(files, "test", kAlice);
    ASSERT_TRUE(c) << c.error().message();
  }
  StatusOr<meta::MetaDefinition> Resolve() {
    return meta::ResolveDefinition(*store_, {"acme", "prod", "web-1", "shop"});
  }
  const FieldOrigin* Origin(const meta::MetaDefinition& d, const std::string& field) {
    for (const FieldOrigin& o : d.resolved.origins) {
      if (o.field == field) return &o;
    }
    return nullptr;
  }
  TempDir dir_;
  std::unique_ptr<meta::GitStore> store_;
};

// Project, env (with a parent), host and service levels merge, each field naming its file:line.
TEST_F(DefinitionsTest, FourLevelsWithProvenance) {
  Put({{"acme/definition.txtpb", "env { key: \"A\" value: \"project\" }\n"},
       {"acme/envs/base.txtpb", "definition {\n  env { key: \"B\" value: \"base\" }\n}\n"},
       {"acme/envs/prod.txtpb",
        "parent: \"base\"\ndefinition {\n  env { key: \"A\" value: \"prod\" }\n"
        "  secrets { name: \"db\" env: \"DB\" }\n}\n"},
       {"acme/prod/host-definitions/web-1.txtpb", "properties { key: \"p\" value: \"host\" }\n"},
       {"acme/prod/services/shop.txtpb",
        "\ntemplates { name: \"app.conf\" source: \"templates/app.conf\" }\n"},
       {"acme/templates/app.conf", "port={{port}}\n"},
       {"acme/secrets/db.age", "CIPHERTEXT"}});
  auto d = Resolve();
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_TRUE(d->found);
  EXPECT_EQ(d->resolved.chain.size(), 5u);
  const ServicePolicy& def = d->resolved.definition;
  EXPECT_EQ(def.env().at("A"), "prod");
  EXPECT_EQ(def.env().at("B"), "base");
  EXPECT_EQ(def.templates(0).text(), "port={{port}}\n");
  EXPECT_EQ(def.secrets(0).ciphertext(), "CIPHERTEXT");
  EXPECT_EQ(d->digest.size(), 64u);
  const FieldOrigin* a = Origin(*d, "env[\"A\"]");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->path + ":" + std::to_string(a->line), "acme/envs/prod.txtpb:3");
  const FieldOrigin* b = Origin(*d, "env[\"B\"]");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->path + ":" + std::to_string(b->line), "acme/envs/base.txtpb:2");
  const FieldOrigin* p = Origin(*d, "properties[\"p\"]");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->path, "acme/prod/host-definitions/web-1.txtpb");
  const FieldOrigin* t = Origin(*d, "templates[\"app.conf\"]");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->path + ":" + std::to_string(t->line), "acme/prod/services/shop.txtpb:2");

  // A new ciphertext changes the digest; the diff says only "changed".
  const std::string before = d->digest;
  const ServicePolicy old = def;
  Put({{"acme/secrets/db.age", "OTHER"}});
  auto again = Resolve();
  ASSERT_TRUE(again);
  EXPECT_NE(again->digest, before);
  auto changes = DiffDefinitions(old, again->resolved.definition, meta::ContentDigest);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].Describe(), "secrets[\"db\"]: changed");
}

// No level at all: nothing found, no error (the config alone applies).
TEST_F(DefinitionsTest, NoDefinition) {
  Put({{"README.md", "x"}});
  auto d = Resolve();
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->found);
}

// A missing parent, a missing secret file and a bad record are refused naming the files.
TEST_F(DefinitionsTest, RefusalsNameFiles) {
  Put({{"acme/envs/prod.txtpb", "parent: \"staging\"\n"}});
  auto d = Resolve();
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(),
            "acme/envs/prod.txtpb: parent \"staging\" has no record acme/envs/staging.txtpb");

  Put({{"acme/envs/prod.txtpb", "definition {\n secrets { name: \"db\" }\n}\n"}});
  d = Resolve();
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(),
            "acme/envs/prod.txtpb:2: secret acme/secrets/db.age is not in meta");

  Put({{"acme/prod/services/shop.txtpb", "env { key: \"A\" }\nbogus: 1\n"}});
  d = Resolve();
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("acme/prod/services/shop.txtpb:2:"), std::string::npos)
      << d.error().message();
}

}  // namespace
}  // namespace yoke
