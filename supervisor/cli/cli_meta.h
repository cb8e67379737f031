// `yoke meta init|release add|channel set|validate|log`: the release side of meta, run by an
// operator or a CI job against a clone (or against a supervisor's own <base>/meta). Each
// command that changes meta makes one commit with a clear message; pushing is left to git.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "meta/git_store.h"
#include "proto/yoke/config.pb.h"

namespace yoke {

// Where a meta command works: the repository (--repo DIR, or a config's <base>/meta) and the
// project, env and channel (as given, else the config's, else the defaults).
struct MetaPlace {
  std::string repo;
  std::string embedded_branch;  // set when `repo` is a config's <base>/meta
  std::string project;
  std::string env;
  std::string channel;
  MetaSettings settings;  // the config's meta block (credentials for a URL), or the defaults
};
// Fills what `given` leaves empty from the config at `config_path` (if any) and the defaults.
// Fails on a config that does not load, or when no repository is named.
StatusOr<MetaPlace> ResolveMetaPlace(MetaPlace given, const std::string& config_path);
// Opens the place's repository; a supervisor's embedded one is created as the supervisor would.
StatusOr<std::unique_ptr<meta::GitStore>> OpenMetaPlace(const MetaPlace& place);
// "name <name@host>" for commits an operator makes: `given`, else $SUDO_USER or $USER.
meta::Author OperatorAuthor(const std::string& given);

// --repo URL (ssh://, https://, file://): the remote-access flags of `yoke meta`, `yoke fleet`
// and `yoke captain`, each overriding the config's meta block.
struct RemoteFlags {
  std::string ssh_key_file, passphrase_file, known_hosts_file, token_file, https_user, ca_file;
  uint32_t timeout_s = 0;
  void AddTo(CLI::App* cmd);
  MetaSettings Over(const MetaSettings& settings) const;
};
bool IsMetaUrl(const std::string& repo);
// One cached bare clone per URL ($XDG_CACHE_HOME/yoke/meta/<url>), so repeated commands fetch
// only what is new: opened (or made), fetched, and brought up to the remote's tip.
// `owner` names a clone of its own (the captain's, whose refused commits are dropped, never
// an operator's left to push again).
StatusOr<std::unique_ptr<meta::GitStore>> OpenRemoteCache(const std::string& url,
                                                          const MetaSettings& settings,
                                                          const std::string& owner = "");

class MetaCommands {
 public:
  // Registers `meta` and its subcommands on `app`.
  explicit MetaCommands(CLI::App& app);
  // After parsing: the exit code of the meta command given, or nullopt when none was.
  std::optional<int> Run();

 private:
  // The repository named by --repo, or the config's <base>/meta.
  StatusOr<std::unique_ptr<meta::GitStore>> OpenRepo() const;
  int Init();
  int ReleaseAdd();
  int ChannelSet();
  int Validate();
  int Log();
  int ChannelRollback();
  int Find();
  int PushRemote();  // remote_store_'s commit, to remote_url_
  // cli_definitions.cc: `meta resolve` and `meta secret set`.
  void AddDefinitionCommands(const std::function<void(CLI::App*)>& where);
  int Resolve();
  int SecretSet();

  CLI::App* meta_ = nullptr;
  CLI::App* init_ = nullptr;
  CLI::App* release_add_ = nullptr;
  CLI::App* channel_set_ = nullptr;
  CLI::App* validate_ = nullptr;
  CLI::App* log_ = nullptr;
  CLI::App* channel_rollback_ = nullptr;
  CLI::App* find_ = nullptr;
  CLI::App* resolve_ = nullptr;
  CLI::App* secret_set_ = nullptr;
  std::string secret_name_, secret_file_;
  std::vector<std::string> recipients_;

  std::string repo_;             // --repo DIR
  std::string config_;           // --config FILE: <base>/meta and the config's meta settings
  std::string embedded_branch_;  // set when the repository is the config's <base>/meta
  std::string init_dir_;
  bool bare_ = false;
  std::string project_, env_, channel_, version_, artifact_, author_, host_, service_, reason_;
  bool now_ = false;
  std::vector<std::string> sources_;  // repo=githash
  std::vector<std::string> flags_;    // name=value
  size_t limit_ = 0;
  bool json_ = false;             // meta log --json
  std::string sha256_, githash_;  // find
  // --repo URL: a cached clone (OpenRemoteCache), fetched before and pushed after a change.
  RemoteFlags remote_flags_;
  std::string remote_url_;
  std::unique_ptr<meta::GitStore> remote_store_;
};

}  // namespace yoke
