// `yoke meta init|release add|channel set|validate|log`: the release side of meta, run by an
// operator or a CI job against a clone (or against a supervisor's own <base>/meta). Each
// command that changes meta makes one commit with a clear message; pushing is left to git.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "meta/git_store.h"
#include "proto/yoke/config.pb.h"

namespace yoke {

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
  int Find();
  // --repo URL (ssh://, https://, file://): a cached clone, fetched before and pushed after.
  Status PrepareRemote(const MetaSettings& settings);
  int PushRemote();

  CLI::App* meta_ = nullptr;
  CLI::App* init_ = nullptr;
  CLI::App* release_add_ = nullptr;
  CLI::App* channel_set_ = nullptr;
  CLI::App* validate_ = nullptr;
  CLI::App* log_ = nullptr;
  CLI::App* find_ = nullptr;

  std::string repo_;             // --repo DIR
  std::string config_;           // --config FILE: <base>/meta and the config's meta settings
  std::string embedded_branch_;  // set when the repository is the config's <base>/meta
  std::string init_dir_;
  bool bare_ = false;
  std::string project_, env_, channel_, version_, artifact_, author_, host_, service_;
  std::vector<std::string> sources_;  // repo=githash
  std::vector<std::string> flags_;    // name=value
  size_t limit_ = 0;
  std::string sha256_, githash_;  // find
  // Remote access (the same settings as the config's meta block; flags override it).
  std::string remote_url_;
  std::unique_ptr<meta::GitStore> remote_store_;
  std::string ssh_key_file_, passphrase_file_, known_hosts_file_, token_file_, https_user_,
      ca_file_;
  uint32_t timeout_s_ = 0;
};

}  // namespace yoke
