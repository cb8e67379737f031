#include "meta/records.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/record_text.h"
#include "core/version.h"
#include "meta/layout.h"

namespace yoke::meta {
namespace {

std::string PbTwin(const std::string& path) {
  if (!path.ends_with(".txtpb")) return "";
  return path.substr(0, path.size() - 6) + ".pb";
}

std::string FileStem(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.ends_with(".txtpb")) return name.substr(0, name.size() - 6);
  if (name.ends_with(".pb")) return name.substr(0, name.size() - 3);
  return name;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

// Which record type a path in meta holds, by the layout; null for files that are not records.
std::unique_ptr<google::protobuf::Message> RecordFor(const std::string& path) {
  if (!(path.ends_with(".txtpb") || path.ends_with(".pb"))) return nullptr;
  auto parts = Split(path);
  if (parts.size() == 3 && parts[1] == "releases") return std::make_unique<Release>();
  if (parts.size() == 4 && parts[2] == "channels") return std::make_unique<Channel>();
  if (parts.size() == 4 && parts[2] == "services") return std::make_unique<ServicePolicy>();
  // Definitions (meta/definitions.h).
  if (parts.size() == 2 && FileStem(parts[1]) == "definition") {
    return std::make_unique<ServicePolicy>();
  }
  if (parts.size() == 3 && parts[1] == "envs") return std::make_unique<EnvRecord>();
  if (parts.size() == 4 && parts[2] == "host-definitions") return std::make_unique<ServicePolicy>();
  if (parts.size() == 6 && parts[2] == "hosts" && FileStem(parts[5]) == "status") {
    return std::make_unique<HostStatus>();
  }
  if (ParseDecisionPath(path)) return std::make_unique<Decision>();
  return nullptr;
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit((unsigned char)c); });
}

}  // namespace

bool IsGithash(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

StatusOr<bool> ReadRecord(const GitStore& store, const std::string& path,
                          google::protobuf::Message* record) {
  std::string name = path;
  YOKE_ASSIGN_OR_RETURN(auto bytes, store.ReadFile(path));
  if (!bytes && !PbTwin(path).empty()) {
    name = PbTwin(path);
    YOKE_ASSIGN_OR_RETURN(bytes, store.ReadFile(name));
  }
  if (!bytes) return false;
  YOKE_RETURN_IF_ERROR(ParseRecord(name, *bytes, record));
  return true;
}

StatusOr<DecisionListing> ReadDecisions(const GitStore& store, const std::string& dir, size_t limit,
                                        const std::function<bool(const std::string&)>& want) {
  DecisionListing listing;
  YOKE_ASSIGN_OR_RETURN(auto files, store.ListFiles(dir));
  for (const std::string& path : files) {
    if (!ParseDecisionPath(path) || (want && !want(path))) continue;
    YOKE_ASSIGN_OR_RETURN(auto bytes, store.ReadFile(path));
    if (!bytes) continue;
    DecisionEntry entry;
    entry.path = path;
    entry.id = FileStem(path);  // drops .txtpb, or .pb for a binary record
    if (auto st = ParseRecord(path, *bytes, &entry.decision); !st) {
      entry.decision.Clear();
      entry.problem = st.error().message();
    }
    listing.entries.push_back(std::move(entry));
  }
  listing.total = listing.entries.size();
  SortNewestFirst(&listing.entries, limit);
  return listing;
}

StatusOr<std::vector<std::string>> Validate(const GitStore& store) {
  std::vector<std::string> problems;
  YOKE_ASSIGN_OR_RETURN(auto files, store.ListFiles(""));
  std::set<std::string> releases;  // "<project>/<version>"
  std::vector<std::pair<std::string, Channel>> channels;
  for (const std::string& path : files) {
    auto record = RecordFor(path);
    if (!record) continue;
    YOKE_ASSIGN_OR_RETURN(auto bytes, store.ReadFile(path));
    if (!bytes) continue;
    if (auto st = ParseRecord(path, *bytes, record.get()); !st) {
      problems.push_back(st.error().message());
      continue;
    }
    auto parts = Split(path);
    if (auto* release = dynamic_cast<Release*>(record.get())) {
      if (release->version() != FileStem(path)) {
        problems.push_back(fmt::format("{}:1:1: version \"{}\" does not match the file name", path,
                                       release->version()));
      }
      if (!IsValidVersionString(release->version())) {
        problems.push_back(
            fmt::format("{}:1:1: \"{}\" is not a version", path, release->version()));
      }
      if (release->artifact().uri().empty()) {
        problems.push_back(path + ":1:1: artifact.uri is missing");
      }
      if (!IsHex64(release->artifact().sha256())) {
        problems.push_back(path + ":1:1: artifact.sha256 must be 64 hex digits");
      }
      if (release->artifact().size() == 0) {
        problems.push_back(path + ":1:1: artifact.size is missing");
      }
      if (release->source().empty()) {
        problems.push_back(path +
                           ":1:1: no source; a release lists the githash of every repo it was "
                           "built from (source { repo: \"...\" githash: \"<40 hex>\" })");
      }
      for (const SourceRevision& source : release->source()) {
        if (source.repo().empty()) problems.push_back(path + ":1:1: a source without a repo");
        if (!IsGithash(source.githash())) {
          problems.push_back(fmt::format("{}:1:1: source {}: githash \"{}\" is not 40 hex digits",
                                         path, source.repo(), source.githash()));
        }
      }
      releases.insert(parts[0] + "/" + FileStem(path));
    } else if (auto* channel = dynamic_cast<Channel*>(record.get())) {
      channels.emplace_back(path, *channel);
    }
  }
  for (const auto& [path, channel] : channels) {
    std::string project = path.substr(0, path.find('/'));
    if (channel.release().empty()) {
      problems.push_back(path + ":1:1: release is missing");
    } else if (!releases.contains(project + "/" + channel.release())) {
      problems.push_back(fmt::format("{}:1:1: release \"{}\" has no record under {}/releases/",
                                     path, channel.release(), project));
    }
  }
  return problems;
}

std::string DecisionCommitMessage(const Decision& decision) {
  std::string verdict = Verdict_Name(decision.verdict());
  std::transform(verdict.begin(), verdict.end(), verdict.begin(), ::tolower);
  std::string from = decision.from_version().empty() ? "none" : decision.from_version();
  return fmt::format("{} on {}: {} {} (running {}, by {})", decision.service(), decision.host(),
                     verdict, decision.to_version(), from, decision.author());
}

StatusOr<std::string> AddRelease(GitStore& store, const std::string& project,
                                 const Release& release, const Author& author) {
  if (!IsSafeComponent(project)) return Fail("bad project name \"" + project + "\"");
  if (!IsValidVersionString(release.version()) || !IsSafeComponent(release.version())) {
    return Fail("bad version \"" + release.version() + "\"");
  }
  const std::string path = ReleasePath(project, release.version());
  auto existing = Read<Release>(store, path);
  if (!existing) return std::unexpected(existing.error());
  if (*existing && (*existing)->SerializeAsString() != release.SerializeAsString()) {
    return Fail("release " + release.version() + " of " + project +
                " already exists with other content (" + path + "); releases never change");
  }
  YOKE_ASSIGN_OR_RETURN(std::string text, PrintTextRecord(release));
  return store.Commit(
      {{path, text}},
      fmt::format("release {} {} ({})", project, release.version(), release.artifact().uri()),
      author);
}

StatusOr<std::string> SetChannel(GitStore& store, const std::string& project,
                                 const std::string& env, const std::string& channel,
                                 const std::string& version,
                                 const std::optional<std::map<std::string, std::string>>& flags,
                                 const Author& author) {
  for (const std::string& name : {project, env, channel}) {
    if (!IsSafeComponent(name)) return Fail("bad name \"" + name + "\"");
  }
  YOKE_ASSIGN_OR_RETURN(auto release, Read<Release>(store, ReleasePath(project, version)));
  if (!release) {
    return Fail("no release " + version + " of " + project + " (" + ReleasePath(project, version) +
                "); add it with `yoke meta release add` first");
  }
  const std::string path = ChannelPath(project, env, channel);
  Channel record;
  std::string previous = "none";
  if (auto old = Read<Channel>(store, path); old && *old) {
    record = **old;
    if (!record.release().empty()) previous = record.release();
  }
  record.set_release(version);
  record.clear_rollback();  // a new release ends a fleet-wide rollback order
  if (flags) {
    record.mutable_flags()->clear();
    for (const auto& [k, v] : *flags) (*record.mutable_flags())[k] = v;
  }
  YOKE_ASSIGN_OR_RETURN(std::string text, PrintTextRecord(record));
  return store.Commit(
      {{path, text}},
      fmt::format("channel {}/{}/{}: {} (was {})", project, env, channel, version, previous),
      author);
}

}  // namespace yoke::meta
