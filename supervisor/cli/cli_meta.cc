#include "supervisor/cli/cli_meta.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include "base-layout/paths.h"
#include "core/rollout.h"
#include "meta/artifact_fetch.h"
#include "meta/digest.h"
#include "meta/fleet.h"
#include "meta/git_store.h"
#include "meta/layout.h"
#include "meta/records.h"
#include "meta/remote_auth.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/config_loader.h"
#include "supervisor/cli/ops_format.h"
#include "supervisor/cli/ops_json.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

constexpr const char* kReadme =
    "# meta\n\n"
    "Records for yoke (protobuf text format), one folder per project:\n\n"
    "    <project>/releases/<version>.txtpb\n"
    "    <project>/<env>/channels/<channel>.txtpb\n"
    "    <project>/<env>/services/<service>.txtpb\n"
    "    <project>/<env>/hosts/<host>/<service>/status.txtpb\n"
    "    <project>/<env>/hosts/<host>/<service>/decisions/<time>-<from>-to-<to>.txtpb\n\n"
    "Add releases with `yoke meta release add`, move channels with `yoke meta channel set`,\n"
    "check everything with `yoke meta validate`. Hosts write only under their own hosts/ path.\n";

bool SplitPair(const std::string& text, std::string* key, std::string* value) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *key = text.substr(0, eq);
  *value = text.substr(eq + 1);
  return true;
}

}  // namespace

meta::Author OperatorAuthor(const std::string& given) {
  std::string name = OperatorName(given);
  return {name, name + "@" + HostName()};
}

StatusOr<MetaPlace> ResolveMetaPlace(MetaPlace place, const std::string& config_path) {
  if (!config_path.empty()) {
    auto config = LoadConfig(config_path);
    if (!config) return Invalid(config.error().message());
    const MetaSettings m = MetaSettingsOf(*config);
    place.settings = m;
    if (place.repo.empty()) {
      place.repo = base_paths::MetaDir(config->base_dir()).string();
      place.embedded_branch = m.branch();
    }
    if (place.project.empty()) place.project = m.project();
    if (place.env.empty()) place.env = m.env();
    if (place.channel.empty()) place.channel = m.channel();
  }
  if (place.repo.empty()) return Invalid("say which repository: --repo DIR or --config FILE\n");
  if (place.env.empty()) place.env = MetaSettings().env();
  if (place.channel.empty()) place.channel = MetaSettings().channel();
  return place;
}

StatusOr<std::unique_ptr<meta::GitStore>> OpenMetaPlace(const MetaPlace& place) {
  // A supervisor's embedded repository may not exist before its first start: create it as the
  // supervisor would (bare, on the config's branch).
  if (!place.embedded_branch.empty()) {
    return meta::GitStore::OpenOrInit(place.repo, place.embedded_branch, true);
  }
  return meta::GitStore::Open(place.repo);
}

MetaCommands::MetaCommands(CLI::App& app) {
  meta_ = app.add_subcommand("meta",
                             "Work with meta, the git repository of releases, channels, "
                             "host status and decisions (docs/meta.md).");
  meta_->require_subcommand(1);
  meta_->footer(
      "Example: yoke meta release add --config /etc/yoke/hello.txtpb --version 2.1.0 "
      "--artifact hello-2.1.0\n"
      "         yoke meta channel set --config /etc/yoke/hello.txtpb --version 2.1.0");
  auto where = [this](CLI::App* cmd) {
    cmd->add_option("--repo", repo_,
                    "the meta repository: a clone, a supervisor's <base>/meta, or a remote URL "
                    "(ssh://, https://: fetched into a cached clone, and pushed after a change)");
    cmd->add_option("--config,-c", config_,
                    "a yoke config: use its <base>/meta (or, with --repo URL, its credentials) "
                    "and its meta project, env and channel");
    remote_flags_.AddTo(cmd);
  };

  init_ = meta_->add_subcommand("init", "Create a meta repository with a README of the layout.");
  init_->add_option("dir", init_dir_, "where to create it")->required();
  init_->add_flag("--bare", bare_, "a bare repository (for a remote others push to)");
  init_->footer("Example: yoke meta init /srv/meta");

  auto* release = meta_->add_subcommand("release", "Releases: `release add`.");
  release->require_subcommand(1);
  release->footer(
      "Example: yoke meta release add --repo meta --project shop --version 2.1.0 "
      "--artifact shop-2.1.0.jar");
  release_add_ = release->add_subcommand(
      "add", "Record a release: its artifact (sha256 and size computed here) and sources.");
  where(release_add_);
  release_add_->add_option("--project", project_, "the project (default: the config's)");
  release_add_->add_option("--version", version_, "the release's version")->required();
  release_add_->add_option("--artifact", artifact_, "a path, file:// or http:// URI")->required();
  release_add_->add_option("--source", sources_,
                           "repo=githash of a source, 40 hex digits (required; repeatable)");
  release_add_->add_option("--author", author_, "who releases (default: $SUDO_USER or $USER)");
  release_add_->footer(
      "Example: yoke meta release add --repo meta --project shop --version 2.1.0 \\\n"
      "           --artifact /srv/builds/shop-2.1.0.jar --source git@example.com:shop=4f2a9c1");

  auto* channel = meta_->add_subcommand("channel", "Channels: `channel set`, `channel rollback`.");
  channel->require_subcommand(1);
  channel->footer("Example: yoke meta channel set --repo meta --project shop --version 2.1.0");
  channel_set_ = channel->add_subcommand("set", "Point a channel at a release.");
  where(channel_set_);
  channel_set_->add_option("--project", project_, "the project (default: the config's)");
  channel_set_->add_option("--env", env_, "the environment (default: the config's, or prod)");
  channel_set_->add_option("--channel", channel_, "the channel (default: the config's, or stable)");
  channel_set_->add_option("--version", version_, "a version with a release record")->required();
  channel_set_->add_option("--flag", flags_, "name=value feature flag; replaces all flags");
  channel_set_->add_option("--author", author_, "who moves it (default: $SUDO_USER or $USER)");
  channel_set_->footer(
      "Example: yoke meta channel set --repo meta --project shop --env prod --channel stable "
      "--version 2.1.0");

  channel_rollback_ = channel->add_subcommand(
      "rollback",
      "Order every host following the channel to bring a version back (docs/fleet.md).");
  where(channel_rollback_);
  channel_rollback_->add_option("--project", project_, "the project (default: the config's)");
  channel_rollback_->add_option("--env", env_, "the environment (default: the config's, or prod)");
  channel_rollback_->add_option("--channel", channel_,
                                "the channel (default: the config's, or stable)");
  channel_rollback_->add_option("--version", version_, "the version to bring back")->required();
  channel_rollback_->add_option("--reason", reason_, "why; goes into every host's decision")
      ->required();
  channel_rollback_->add_flag("--now", now_,
                              "make it running at once on every host, without a judging window");
  channel_rollback_->add_option("--author", author_,
                                "who orders it (default: $SUDO_USER or $USER)");
  channel_rollback_->footer(
      "Example: yoke meta channel rollback --repo meta --project shop --version 2.0.0 "
      "--reason \"errors since 2.1.0\" --now");

  validate_ = meta_->add_subcommand(
      "validate", "Parse every record; print each bad one with its path and line; exit 1 if any.");
  where(validate_);
  validate_->footer("Example: yoke meta validate --repo meta");

  log_ = meta_->add_subcommand("log", "Decisions recorded in meta, newest first, as a table.");
  where(log_);
  log_->add_option("--host", host_, "only this host's");
  log_->add_option("--service", service_, "only this service's");
  log_->add_option("--limit", limit_, "only the newest N");
  log_->add_flag("--json", json_, "print JSON");
  log_->footer("Example: yoke meta log --repo meta --service shop");

  find_ = meta_->add_subcommand(
      "find",
      "Which release, channels and hosts hold a binary (--sha256) or a commit (--githash).");
  where(find_);
  find_->add_option("--sha256", sha256_, "the artifact's sha256 (sha256sum FILE)");
  find_->add_option("--githash", githash_, "a source commit (7 or more hex digits)");
  find_->footer("Example: yoke meta find --repo meta --sha256 $(sha256sum shop.jar | cut -c1-64)");

  AddDefinitionCommands(where);  // cli_definitions.cc
}

std::optional<int> MetaCommands::Run() {
  if (!*meta_) return std::nullopt;
  if (*init_) return Init();
  // A URL is reached through a cached clone (OpenRemoteCache): note it before the place is
  // resolved.
  const bool is_url = IsMetaUrl(repo_);
  auto place = ResolveMetaPlace({repo_, "", project_, env_, channel_, {}}, config_);
  if (!place) {
    std::cerr << (config_.empty() ? "yoke meta: " : "") << place.error().message();
    return kExitUsage;
  }
  repo_ = place->repo;
  embedded_branch_ = place->embedded_branch;
  project_ = place->project;
  env_ = place->env;
  channel_ = place->channel;
  if (is_url) {
    remote_url_ = repo_;
    auto cache = OpenRemoteCache(remote_url_, remote_flags_.Over(place->settings));
    if (!cache) {
      std::cerr << "yoke meta: " << cache.error().message() << "\n";
      return kExitFailure;
    }
    remote_store_ = std::move(*cache);
    repo_ = remote_store_->path();
    embedded_branch_ = place->settings.branch();
  }
  int code = kExitUsage;
  if (*release_add_) code = ReleaseAdd();
  if (*channel_set_) code = ChannelSet();
  if (*channel_rollback_) code = ChannelRollback();
  if (*validate_) code = Validate();
  if (*log_) code = Log();
  if (*find_) code = Find();
  if (*resolve_) code = Resolve();
  if (*secret_set_) code = SecretSet();
  const bool changed = *release_add_ || *channel_set_ || *channel_rollback_ || *secret_set_;
  if (code == kExitOk && remote_store_ && changed) code = PushRemote();
  return code;
}

void RemoteFlags::AddTo(CLI::App* cmd) {
  cmd->add_option("--ssh-key-file", ssh_key_file, "with --repo ssh://: as meta.ssh_key_file");
  cmd->add_option("--ssh-key-passphrase-file", passphrase_file, "as meta.ssh_key_passphrase_file");
  cmd->add_option("--known-hosts-file", known_hosts_file, "as meta.known_hosts_file");
  cmd->add_option("--https-token-file", token_file, "with --repo https://: as meta's");
  cmd->add_option("--https-user", https_user, "as meta.https_user");
  cmd->add_option("--ca-file", ca_file, "as meta.ca_file");
  cmd->add_option("--timeout-s", timeout_s, "as meta.timeout_s");
}

MetaSettings RemoteFlags::Over(const MetaSettings& settings) const {
  MetaSettings m = settings;
  if (!ssh_key_file.empty()) m.set_ssh_key_file(ssh_key_file);
  if (!passphrase_file.empty()) m.set_ssh_key_passphrase_file(passphrase_file);
  if (!known_hosts_file.empty()) m.set_known_hosts_file(known_hosts_file);
  if (!token_file.empty()) m.set_https_token_file(token_file);
  if (!https_user.empty()) m.set_https_user(https_user);
  if (!ca_file.empty()) m.set_ca_file(ca_file);
  if (timeout_s > 0) m.set_timeout_s(timeout_s);
  return m;
}

bool IsMetaUrl(const std::string& repo) { return repo.find("://") != std::string::npos; }

StatusOr<std::unique_ptr<meta::GitStore>> OpenRemoteCache(const std::string& url,
                                                          const MetaSettings& settings,
                                                          const std::string& owner) {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  fs::path root = cache && *cache ? fs::path(cache) : fs::path(home ? home : "/tmp") / ".cache";
  std::string name;
  for (char c : url) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (!owner.empty()) name += "." + owner;
  const fs::path dir = root / "yoke" / "meta" / name;
  YOKE_ASSIGN_OR_RETURN(auto store,
                        meta::GitStore::OpenOrInit(dir.string(), settings.branch(), true));
  YOKE_RETURN_IF_ERROR(store->SetRemote(url));
  store->SetAuth(meta::RemoteAuthFrom(settings));
  YOKE_RETURN_IF_ERROR(store->Fetch());
  if (auto applied = store->Integrate(); !applied) return Fail(applied.error().message());
  return store;
}

int MetaCommands::PushRemote() {
  // The commit is on the cached clone; others may push meanwhile: fetch, re-apply, push again.
  std::string last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto pushed = remote_store_->Push();
    if (pushed) {
      std::cout << "pushed to " << remote_url_ << "\n";
      return kExitOk;
    }
    last = pushed.error().message();
    if (auto fetched = remote_store_->Fetch(); !fetched) {
      last = fetched.error().message();
      break;
    }
    if (auto applied = remote_store_->Integrate(); !applied) {
      last = applied.error().message();
      break;
    }
  }
  std::cerr << "yoke meta: committed in " << repo_ << " but not pushed: " << last
            << "\n  (run the command again, or push that repository by hand)\n";
  return kExitFailure;
}

int MetaCommands::Find() {
  if (sha256_.empty() == githash_.empty()) {
    std::cerr << "yoke meta find: give --sha256 HEX or --githash HEX\n";
    return kExitUsage;
  }
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string sha = lower(sha256_), hash = lower(githash_);
  if (!hash.empty() && hash.size() < 7) {
    std::cerr << "yoke meta find: --githash wants at least 7 hex digits\n";
    return kExitUsage;
  }
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta find: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto files = (*store)->ListFiles("");
  if (!files) {
    std::cerr << "yoke meta find: " << files.error().message() << "\n";
    return kExitFailure;
  }
  // project -> versions that match
  std::map<std::string, std::set<std::string>> found;
  for (const std::string& path : *files) {
    auto slash = path.find('/');
    if (slash == std::string::npos || path.compare(slash, 10, "/releases/") != 0) continue;
    auto release = meta::Read<Release>(**store, path);
    if (!release || !*release) continue;
    const Release& r = **release;
    bool match = !sha.empty() && lower(r.artifact().sha256()) == sha;
    std::string via;
    for (const auto& source : r.source()) {
      if (!hash.empty() && lower(source.githash()).starts_with(hash)) {
        match = true;
        via = " (source " + source.repo() + " " + source.githash() + ")";
      }
    }
    if (!match) continue;
    const std::string project = path.substr(0, slash);
    found[project].insert(r.version());
    std::cout << "release " << project << " " << r.version() << ": " << path << via << "\n";
    std::cout << "  artifact " << r.artifact().uri() << " sha256 " << r.artifact().sha256() << "\n";
    for (const auto& source : r.source()) {
      std::cout << "  source " << source.repo() << " " << source.githash() << "\n";
    }
  }
  if (found.empty()) {
    std::cout << "no release matches\n";
    return kExitFailure;
  }
  for (const std::string& path : *files) {
    auto parts = path.find('/');
    const std::string project = path.substr(0, parts);
    if (!found.contains(project)) continue;
    if (path.find("/channels/") != std::string::npos) {
      auto channel = meta::Read<yoke::Channel>(**store, path);
      if (channel && *channel && found[project].contains((*channel)->release())) {
        std::cout << "channel " << path << " -> " << (*channel)->release() << "\n";
      }
    } else if (path.ends_with("/status.txtpb") && path.find("/hosts/") != std::string::npos) {
      auto status = meta::Read<HostStatus>(**store, path);
      if (!status || !*status) continue;
      for (const std::string& role : {std::string("running"), std::string("testing")}) {
        const std::string& v = role == "running" ? (*status)->running() : (*status)->testing();
        if (!v.empty() && found[project].contains(v)) {
          std::cout << "host " << (*status)->host() << " " << (*status)->service() << " " << role
                    << " " << v << "\n";
        }
      }
    }
  }
  return kExitOk;
}

StatusOr<std::unique_ptr<meta::GitStore>> MetaCommands::OpenRepo() const {
  return OpenMetaPlace({repo_, embedded_branch_, project_, env_, channel_, {}});
}

int MetaCommands::Init() {
  auto store = meta::GitStore::OpenOrInit(init_dir_, "main", bare_);
  if (!store) {
    std::cerr << "yoke meta init: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto tip = (*store)->Tip();
  if (tip && !tip->empty()) {
    std::cout << init_dir_ << " is already a meta repository (branch " << (*store)->branch()
              << ")\n";
    return kExitOk;
  }
  auto commit = (*store)->Commit({{"README.md", kReadme}}, "meta: start", OperatorAuthor(author_));
  if (!commit) {
    std::cerr << "yoke meta init: " << commit.error().message() << "\n";
    return kExitFailure;
  }
  std::cout << "created meta repository " << init_dir_ << " (branch " << (*store)->branch()
            << ", commit " << commit->substr(0, 12) << ")\n";
  return kExitOk;
}

int MetaCommands::ReleaseAdd() {
  if (project_.empty()) {
    std::cerr << "yoke meta release add: --project is required without --config\n";
    return kExitUsage;
  }
  std::string uri = artifact_;
  StatusOr<meta::FileDigest> digest = Fail("");
  if (uri.starts_with("http://") || uri.starts_with("https://")) {
    fs::path tmp = fs::temp_directory_path() / ("yoke-release-" + std::to_string(::getpid()));
    digest = meta::FetchArtifact(uri, tmp, UINT64_MAX, std::chrono::seconds(600));
    std::error_code ec;
    fs::remove(tmp, ec);
  } else {
    fs::path path = uri.starts_with("file://") ? fs::path(uri.substr(7)) : fs::path(uri);
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec);
    if (!uri.starts_with("file://")) uri = absolute.string();
    digest = meta::DigestFile(absolute);
  }
  if (!digest) {
    std::cerr << "yoke meta release add: " << digest.error().message() << "\n";
    return kExitFailure;
  }
  Release release;
  release.set_version(version_);
  release.mutable_artifact()->set_uri(uri);
  release.mutable_artifact()->set_sha256(digest->sha256);
  release.mutable_artifact()->set_size(digest->size);
  // A release always names the commit of every repo it was built from.
  if (sources_.empty()) {
    std::cerr << "yoke meta release add: --source repo=githash is required (once per repo the "
                 "release was built from)\n";
    return kExitUsage;
  }
  for (const std::string& source : sources_) {
    std::string repo, githash;
    if (!SplitPair(source, &repo, &githash)) {
      std::cerr << "yoke meta release add: --source wants repo=githash, not \"" << source << "\"\n";
      return kExitUsage;
    }
    if (!meta::IsGithash(githash)) {
      std::cerr << "yoke meta release add: --source " << repo << ": githash \"" << githash
                << "\" is not 40 hex digits (git rev-parse HEAD)\n";
      return kExitUsage;
    }
    auto* s = release.add_source();
    s->set_repo(repo);
    s->set_githash(githash);
  }
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta release add: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto commit = meta::AddRelease(**store, project_, release, OperatorAuthor(author_));
  if (!commit) {
    std::cerr << "yoke meta release add: " << commit.error().message() << "\n";
    return kExitFailure;
  }
  std::cout << "released " << project_ << " " << version_ << ": "
            << meta::ReleasePath(project_, version_) << " (sha256 " << digest->sha256 << ", "
            << digest->size << " bytes), commit " << commit->substr(0, 12) << "\n";
  return kExitOk;
}

int MetaCommands::ChannelSet() {
  if (project_.empty()) {
    std::cerr << "yoke meta channel set: --project is required without --config\n";
    return kExitUsage;
  }
  std::optional<std::map<std::string, std::string>> flags;
  if (!flags_.empty()) {
    flags.emplace();
    for (const std::string& flag : flags_) {
      std::string name, value;
      if (!SplitPair(flag, &name, &value)) {
        std::cerr << "yoke meta channel set: --flag wants name=value, not \"" << flag << "\"\n";
        return kExitUsage;
      }
      (*flags)[name] = value;
    }
  }
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta channel set: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto commit =
      meta::SetChannel(**store, project_, env_, channel_, version_, flags, OperatorAuthor(author_));
  if (!commit) {
    std::cerr << "yoke meta channel set: " << commit.error().message() << "\n";
    return kExitFailure;
  }
  std::cout << "channel " << meta::ChannelPath(project_, env_, channel_) << " -> " << version_
            << ", commit " << commit->substr(0, 12) << "\n";
  return kExitOk;
}

int MetaCommands::Validate() {
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta validate: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto problems = meta::Validate(**store);
  if (!problems) {
    std::cerr << "yoke meta validate: " << problems.error().message() << "\n";
    return kExitFailure;
  }
  for (const std::string& p : *problems) std::cout << p << "\n";
  auto files = (*store)->ListFiles("");
  std::cout << (problems->empty() ? "ok: " : std::to_string(problems->size()) + " problem(s) in ")
            << (files ? files->size() : 0) << " files at " << repo_ << "\n";
  return problems->empty() ? kExitOk : kExitFailure;
}

int MetaCommands::Log() {
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta log: " << store.error().message() << "\n";
    return kExitFailure;
  }
  auto decisions = meta::ReadDecisions(**store, "");
  if (!decisions) {
    std::cerr << "yoke meta log: " << decisions.error().message() << "\n";
    return kExitFailure;
  }
  DecisionListing shown;
  shown.total = decisions->total;
  for (DecisionEntry& entry : decisions->entries) {
    auto place = meta::ParseDecisionPath(entry.path);
    if (!host_.empty() && place->host != host_) continue;
    if (!service_.empty() && place->service != service_) continue;
    if (limit_ > 0 && shown.entries.size() == limit_) break;
    if (!entry.problem.empty()) std::cerr << "skipped: " << entry.problem << "\n";
    shown.entries.push_back(std::move(entry));
  }
  if (json_) {
    std::cout << DecisionListJson((*store)->path(), shown);
    return kExitOk;
  }
  std::cout << FormatDecisionList(shown.entries, /*with_place=*/true);
  return kExitOk;
}

int MetaCommands::ChannelRollback() {
  if (project_.empty()) {
    std::cerr << "yoke meta channel rollback: --project is required without --config\n";
    return kExitUsage;
  }
  auto store = OpenRepo();
  if (!store) {
    std::cerr << "yoke meta channel rollback: " << store.error().message() << "\n";
    return kExitFailure;
  }
  const meta::Author author = OperatorAuthor(author_);
  FleetRollback order;
  order.set_version(version_);
  order.set_reason(reason_);
  order.set_now(now_);
  order.set_time(FormatRfc3339(std::chrono::system_clock::now()));
  order.set_author(author.name);
  auto commit = meta::OrderRollback(**store, {project_, env_, channel_}, order, author);
  if (!commit) {
    std::cerr << "yoke meta channel rollback: " << commit.error().message() << "\n";
    return commit.error().code() == ErrorCode::kInvalid ? kExitUsage : kExitFailure;
  }
  std::cout << "channel " << meta::ChannelPath(project_, env_, channel_) << " -> " << version_
            << (now_ ? ", at once" : ", as a candidate") << " on every host following it; commit "
            << commit->substr(0, 12) << "\n";
  return kExitOk;
}

}  // namespace yoke
