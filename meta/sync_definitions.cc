// MetaSync's part in definitions (docs/config.md, "Definitions in meta"): resolving the
// effective definition at each pass, writing the one a version's instances start with into the
// base, offering a definition-only change as a candidate (the same release, named
// <release>+def-<digest>), and the field-level diff its decision carries.
// Runs on MetaSync's thread, except FillDefinitionChanges (the supervisor's, reading the base).
#include <spdlog/spdlog.h>

#include "base-layout/paths.h"
#include "core/definition.h"
#include "core/record_text.h"
#include "meta/definitions.h"
#include "meta/layout.h"
#include "meta/sync.h"

namespace yoke::meta {
namespace {

// The definition the base holds for `version`, if any.
std::optional<ServicePolicy> BaseDefinition(Env& env, const std::filesystem::path& base,
                                            const std::string& version) {
  auto text = env.ReadFile(base_paths::DefinitionFile(base, version));
  if (!text) return std::nullopt;
  ServicePolicy definition;
  if (!ParseTextRecord(version, *text, &definition)) return std::nullopt;
  return definition;
}

}  // namespace

bool MetaSync::ReleaseHere(const std::string& release) const {
  std::lock_guard lock(mu_);
  return (!running_.empty() && ReleaseOf(running_) == release) ||
         (!testing_.empty() && ReleaseOf(testing_) == release);
}

bool MetaSync::ResolveEffective() {
  const auto& m = options_.settings;
  auto resolved = ResolveDefinition(*store_, {m.project(), m.env(), m.host(), options_.service});
  if (!resolved) {
    const std::string why =
        "definition cannot be resolved, nothing new is taken: " + resolved.error().message();
    if (why != definition_said_) {
      definition_said_ = why;
      spdlog::error("meta: {}", why);
    }
    std::lock_guard lock(mu_);
    snapshot_.set_definition_error(resolved.error().message());
    snapshot_.set_last_error(why);
    status_error_ = why;
    return false;
  }
  if (!definition_said_.empty()) {
    spdlog::info("meta: the definition resolves again");
    definition_said_.clear();
  }
  std::lock_guard lock(mu_);
  if (!snapshot_.definition_error().empty()) {
    snapshot_.clear_definition_error();
    status_error_.clear();
  }
  if (resolved->found) {
    effective_ = resolved->resolved.definition;
    effective_digest_ = resolved->digest;
    // The judge and mirror overrides merged down the chain replace the service record's.
    ServicePolicy policy;
    if (effective_->has_judge()) *policy.mutable_judge() = effective_->judge();
    if (effective_->has_mirror()) *policy.mutable_mirror() = effective_->mirror();
    policy_override_ = policy;
  } else {
    effective_.reset();
    effective_digest_.clear();
  }
  snapshot_.set_definition_digest(effective_digest_);
  return true;
}

Status MetaSync::WriteDefinitionFor(const std::string& version) {
  Env& env = *options_.env;
  const auto file = base_paths::DefinitionFile(options_.base, version);
  if (!effective_) {
    // No definition in meta: the config alone applies; an old file must not linger.
    Status removed = env.Remove(file);
    if (!removed && !removed.error().is(ErrorCode::kNotFound)) return removed;
    return Ok();
  }
  YOKE_RETURN_IF_ERROR(env.CreateDirs(file.parent_path()));
  YOKE_ASSIGN_OR_RETURN(std::string text, PrintTextRecord(*effective_));
  // It holds ciphertext only; still, nobody else needs to read it.
  return env.WriteFileAtomic(file, text, FileMode::kPrivate);
}

void MetaSync::FollowDefinition(const Release& release, const std::string& running) {
  auto current = BaseDefinition(*options_.env, options_.base, running);
  if (current && effective_ && OnlyLiveFlagsDiffer(*current, *effective_)) {
    // The same definition but for live flags' values: those move at once, without a candidate.
    auto changes = DiffDefinitions(*current, *effective_, ContentDigest);
    // Only flags count here: judge and mirror changes apply from the next window by themselves.
    std::vector<std::string> lines;
    for (const DefinitionChange& c : changes) {
      if (c.field.starts_with("flags[")) lines.push_back(c.Describe());
    }
    if (lines.empty() || !options_.live_flags) return;
    std::string key = running;
    for (const std::string& line : lines) key += "\n" + line;
    if (key == live_offered_) return;
    live_offered_ = key;
    auto done = options_.live_flags(*effective_, lines);
    if (!done) {
      live_offered_.clear();  // tried again at the next pass
      SetError("live flags not given yet: " + done.error().message());
    }
    return;
  }
  // No definition is the empty one: a record holding only judge settings changes nothing.
  const ServicePolicy none;
  const std::string running_digest = DefinitionDigest(current.value_or(none));
  const std::string digest = effective_ ? effective_digest_ : DefinitionDigest(none);
  if (running_digest == digest) return;
  const std::string candidate = DefinitionVersion(release.version(), digest);
  if (rejected_.contains(candidate) || options_.is_current(candidate)) return;
  const std::string offer = candidate + "@definition";
  if (offer == offered_) return;
  offered_ = offer;
  spdlog::info("meta: the definition of {} changed (digest {} -> {}): offering {} as a candidate",
               options_.service, running_digest.substr(0, 12), digest.substr(0, 12), candidate);
  if (!Offer(release, candidate)) offered_.clear();
}

void MetaSync::FillDefinitionChanges(Decision* decision) const {
  if (decision->definition_changes_size() > 0) return;
  const std::string& from = decision->from_version();
  const std::string& to = decision->to_version();
  if (to.empty() || (DefinitionTagOf(to).empty() && DefinitionTagOf(from).empty())) return;
  auto before = BaseDefinition(*options_.env, options_.base, from);
  auto after = BaseDefinition(*options_.env, options_.base, to);
  for (const DefinitionChange& change : DiffDefinitions(
           before.value_or(ServicePolicy()), after.value_or(ServicePolicy()), ContentDigest)) {
    decision->add_definition_changes(change.Describe());
  }
}

}  // namespace yoke::meta
