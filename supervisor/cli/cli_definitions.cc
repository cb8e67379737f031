// `yoke meta resolve` (the effective definition of a service on a host, with the file and line
// that set each field) and `yoke meta secret set` (encrypt stdin with age and commit it).
// docs/meta.md, "Definitions".
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "meta/definitions.h"
#include "meta/git_store.h"
#include "platform/age.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/cli_meta.h"

namespace yoke {

void MetaCommands::AddDefinitionCommands(const std::function<void(CLI::App*)>& where) {
  resolve_ = meta_->add_subcommand(
      "resolve",
      "The effective definition of a service on a host (project -> env and its parents -> "
      "host -> service), each field with the file and line that set it.");
  where(resolve_);
  resolve_->add_option("--project", project_, "the project (default: the config's)");
  resolve_->add_option("--env", env_, "the environment (default: the config's, or prod)");
  resolve_->add_option("--host", host_, "the host")->required();
  resolve_->add_option("--service", service_, "the service")->required();
  resolve_->footer(
      "Example: yoke meta resolve --repo meta --project shop --host web-1 "
      "--service shop --env prod");

  auto* secret = meta_->add_subcommand("secret", "Secrets: `secret set`.");
  secret->require_subcommand(1);
  secret_set_ = secret->add_subcommand(
      "set",
      "Encrypt stdin with age for the recipients and commit it as <project>/secrets/<name>.age "
      "(or --file); the plaintext never reaches meta, a command line or the log.");
  where(secret_set_);
  secret_set_->add_option("--project", project_, "the project (default: the config's)");
  secret_set_->add_option("--name", secret_name_, "the secret's name")->required();
  secret_set_
      ->add_option("--recipient,-r", recipients_,
                   "an age recipient (age1..., or an ssh public key); repeatable")
      ->required();
  secret_set_->add_option("--file", secret_file_,
                          "the file in meta, relative to the project (default: secrets/NAME.age)");
  secret_set_->add_option("--author", author_, "who commits it (default: $SUDO_USER or $USER)");
  secret_set_->footer(
      "Example: printf %s \"$DB_PASSWORD\" | yoke meta secret set --repo meta --project shop "
      "--name db_password --recipient age1...");
}

int MetaCommands::Resolve() {
  if (project_.empty()) {
    std::cerr << "yoke meta resolve: --project is required without --config\n";
    return kExitUsage;
  }
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta resolve: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto resolved = meta::ResolveDefinition(**store, {project_, env_, host_, service_});
  if (!resolved) {
    std::cerr << "yoke meta resolve: " << resolved.error().message() << "\n";
    return kExitFailure;
  }
  std::cout << fmt::format("{} on host {} (project {}, env {})\n", service_, host_, project_, env_);
  if (!resolved->found) {
    std::cout << "no definition in meta: the host's config alone applies\n";
    return kExitOk;
  }
  std::cout << "chain:";
  for (const std::string& path : resolved->resolved.chain) std::cout << " " << path;
  std::cout << "\ndigest: " << resolved->digest << "\n\n";
  const ServicePolicy& d = resolved->resolved.definition;
  size_t width = 0;
  std::vector<std::pair<std::string, const FieldOrigin*>> lines;
  for (const FieldOrigin& o : resolved->resolved.origins) {
    std::string text = o.field + " = " + o.value;
    for (const SecretRef& s : d.secrets()) {
      if (o.field == "secrets[\"" + s.name() + "\"]") {
        text += " ciphertext sha256:" + meta::ContentDigest(s.ciphertext());
      }
    }
    for (const TemplateFile& t : d.templates()) {
      if (o.field == "templates[\"" + t.name() + "\"]") {
        text += " content sha256:" + meta::ContentDigest(t.text());
      }
    }
    width = std::max(width, text.size());
    lines.emplace_back(text, &o);
  }
  width = std::min<size_t>(width, 72);
  for (const auto& [text, o] : lines) {
    std::string where = o->line > 0 ? o->path + ":" + std::to_string(o->line) : o->path;
    std::cout << fmt::format("{:<{}}  {} ({})\n", text, width, where, o->level);
  }
  return kExitOk;
}

int MetaCommands::SecretSet() {
  if (project_.empty()) {
    std::cerr << "yoke meta secret set: --project is required without --config\n";
    return kExitUsage;
  }
  const std::string file = secret_file_.empty() ? "secrets/" + secret_name_ + ".age" : secret_file_;
  SecretRef probe;
  probe.set_name(secret_name_);
  ServicePolicy check;
  *check.add_secrets() = probe;
  for (const std::string& problem : CheckDefinition(check)) {
    std::cerr << "yoke meta secret set: " << problem << "\n";
    return kExitUsage;
  }
  if (::isatty(0)) {
    std::cerr << "yoke meta secret set: the value is read from stdin (pipe or redirect it)\n";
    return kExitUsage;
  }
  std::string plaintext((std::istreambuf_iterator<char>(std::cin)),
                        std::istreambuf_iterator<char>());
  if (plaintext.empty()) {
    std::cerr << "yoke meta secret set: stdin was empty; an empty secret is refused\n";
    return kExitUsage;
  }
  auto sealed = AgeEncrypt(recipients_, plaintext);
  plaintext.assign(plaintext.size(), '\0');
  if (!sealed) {
    std::cerr << "yoke meta secret set: " << sealed.error().message() << "\n";
    return kExitFailure;
  }
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta secret set: " << store.error().message() << "\n";
    return kExitFailure;
  }
  const std::string path = project_ + "/" + file;
  auto commit = (*store)->Commit({{path, *sealed}},
                                 fmt::format("secret {}: {} set (age, {} recipient(s))", project_,
                                             secret_name_, recipients_.size()),
                                 OperatorAuthor(author_));
  if (!commit) {
    std::cerr << "yoke meta secret set: " << commit.error().message() << "\n";
    return kExitFailure;
  }
  std::cout << fmt::format("secret {} encrypted to {} recipient(s): {} (sha256:{}), commit {}\n",
                           secret_name_, recipients_.size(), path, meta::ContentDigest(*sealed),
                           commit->substr(0, 12));
  return kExitOk;
}

}  // namespace yoke
