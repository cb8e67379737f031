// MetaSync's thread. Over 500 lines because one pass (fetch, follow the channel, offer an
// artifact, commit decisions and status, push) works on one store and one snapshot under one
// mutex; split by step, that lock's discipline would spread over several files.
#include "meta/sync.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <random>

#include "base-layout/decision_log.h"
#include "base-layout/paths.h"
#include "core/artifact_name.h"
#include "core/definition.h"
#include "core/record_text.h"
#include "core/rollout.h"
#include "core/version.h"
#include "meta/artifact_fetch.h"
#include "meta/fleet.h"
#include "meta/layout.h"
#include "meta/records.h"

namespace yoke::meta {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kLocalPoll = 1s;  // without a remote, the local branch is cheap to read
constexpr auto kMaxPushBackoff = 30s;

std::string EnvName(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

// The extension a drop of this artifact gets, from the last part of its URI.
std::string ExtensionOf(const std::string& uri) {
  std::string name = uri.substr(uri.rfind('/') + 1);
  name = name.substr(0, name.find_first_of("?#"));
  auto parsed = ParseArtifactName("x", "x-0." + name);
  if (parsed && !parsed->extension.empty()) return parsed->extension;
  return "";
}

}  // namespace

MetaSync::MetaSync(MetaSyncOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  snapshot_.set_remote_ok(true);  // until a fetch or push says otherwise
}

MetaSync::~MetaSync() { Stop(); }

std::string MetaSync::HostDir() const {
  const auto& m = options_.settings;
  return meta::HostServiceDir(m.project(), m.env(), m.host(), options_.service);
}

Author MetaSync::HostAuthor() const {
  return {"yoke " + options_.settings.host(), "yoke@" + options_.settings.host()};
}

Status MetaSync::Start() {
  Status started = Open();
  if (!started) {
    std::lock_guard lock(mu_);
    snapshot_.set_last_error("meta is off for this run: " + started.error().message());
    return started;
  }
  thread_ = std::thread([this] { Loop(); });
  return Ok();
}

Status MetaSync::Open() {
  const auto& m = options_.settings;
  for (const std::string& name : {m.project(), m.env(), m.channel(), m.host(), options_.service}) {
    if (!IsSafeComponent(name)) {
      return Fail("meta: \"" + name + "\" cannot be a folder name in meta");
    }
  }
  const fs::path dir = base_paths::MetaDir(options_.base);
  YOKE_ASSIGN_OR_RETURN(store_, GitStore::OpenOrInit(dir.string(), m.branch(), /*bare=*/true));
  if (!m.url().empty()) {
    YOKE_RETURN_IF_ERROR(store_->SetRemote(m.url()));
    store_->SetAuth(RemoteAuthFrom(m));
  }
  YOKE_ASSIGN_OR_RETURN(reader_, GitStore::Open(dir.string(), m.branch()));
  // Commits left from an earlier run count as queued from the start, not from the first pass.
  StatusOr<size_t> ahead = m.url().empty() ? StatusOr<size_t>(0) : store_->Ahead();
  {
    std::lock_guard lock(mu_);
    snapshot_.set_repository(dir.string());
    snapshot_.set_url(m.url());
    if (ahead) snapshot_.set_queued(*ahead);
  }
  spdlog::info("meta: {} (branch {}), following {}/{}/channels/{}, writing as host {}{}",
               dir.string(), m.branch(), m.project(), m.env(), m.channel(), m.host(),
               m.url().empty() ? ", no remote" : ", remote " + m.url());
  return Ok();
}

void MetaSync::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetaSync::Notify(const std::string& running, const std::string& testing) {
  {
    std::lock_guard lock(mu_);
    if (running != running_ || testing != testing_ || since_.empty()) {
      since_ = FormatUtc(clock_->WallNow(), "%Y-%m-%dT%H:%M:%SZ");
    }
    running_ = running;
    testing_ = testing;
    notified_ = true;
  }
  wake_.notify_all();
}

void MetaSync::FetchNow() {
  {
    std::lock_guard lock(mu_);
    fetch_now_ = true;
  }
  wake_.notify_all();
}

MetaStatus MetaSync::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void MetaSync::FillProvenance(Decision* decision) const {
  FillDefinitionChanges(decision);
  std::lock_guard lock(mu_);
  auto known = provenance_.find(ReleaseOf(decision->to_version()));
  if (known == provenance_.end() || !decision->meta_commit().empty()) return;
  decision->set_meta_commit(known->second.first);
  decision->clear_sources();
  for (const SourceRevision& source : known->second.second) *decision->add_sources() = source;
}

std::optional<ServicePolicy> MetaSync::PolicyOverride() const {
  std::lock_guard lock(mu_);
  return policy_override_;
}

std::map<std::string, std::string> MetaSync::EnvFor(const std::string& version) const {
  std::map<std::string, std::string> env;
  const auto& m = options_.settings;
  env["YOKE_CHANNEL"] = m.channel();
  std::lock_guard lock(reader_mu_);
  if (!reader_) return env;
  auto release = meta::Read<Release>(*reader_, meta::ReleasePath(m.project(), ReleaseOf(version)));
  if (release && *release) {
    std::string sources;
    for (const SourceRevision& source : (*release)->source()) {
      std::string repo = source.repo();
      std::string name = repo.substr(
          repo.find_last_of("/:") == std::string::npos ? 0 : repo.find_last_of("/:") + 1);
      if (name.ends_with(".git")) name.resize(name.size() - 4);
      env["YOKE_SOURCE_" + EnvName(name)] = source.githash();
      if (!sources.empty()) sources += ' ';
      sources += repo + "=" + source.githash();
    }
    if (!sources.empty()) env["YOKE_RELEASE_SOURCES"] = sources;
  }
  auto channel =
      meta::Read<Channel>(*reader_, meta::ChannelPath(m.project(), m.env(), m.channel()));
  if (channel && *channel) {
    for (const auto& [name, value] : (*channel)->flags()) env["YOKE_FLAG_" + EnvName(name)] = value;
  }
  return env;
}

void MetaSync::Loop() {
  const bool remote = !options_.settings.url().empty();
  const auto poll =
      std::chrono::seconds(std::max<uint32_t>(1, options_.settings.poll_interval_s()));
  SteadyTime next_fetch = clock_->Now();
  while (true) {
    bool fetch = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, kLocalPoll, [&] { return stop_ || fetch_now_ || notified_; });
      if (stop_) break;
      fetch = remote && (fetch_now_ || clock_->Now() >= next_fetch);
      fetch_now_ = false;
      notified_ = false;
    }
    if (fetch) next_fetch = clock_->Now() + poll;
    // A library error that slipped past its adapter must not end meta for good.
    try {
      Pass(fetch);
    } catch (const std::exception& e) {
      SetError(std::string("meta pass failed: ") + e.what());
    }
  }
  // Whatever was decided last is committed before yoke exits; it is pushed at the next start.
  CommitDecisions();
  CommitStatus();
}

// The artifact fetch as meta's settings say (https CA, credentials, redirects), its progress in
// /status (meta.fetching, fetch_bytes_done/total) and in the log every 5 s.
ArtifactFetchOptions MetaSync::FetchOptionsFor(const std::string& version, uint64_t size) {
  const auto& m = options_.settings;
  ArtifactFetchOptions o;
  o.max_bytes = size;
  o.timeout = std::chrono::seconds(600);
  o.ca_file = m.artifact_ca_file();
  o.token_file = m.artifact_token_file();
  o.basic_auth_file = m.artifact_basic_auth_file();
  o.max_redirects = m.artifact_max_redirects();
  {
    std::lock_guard lock(mu_);
    snapshot_.set_fetching(version);
    snapshot_.set_fetch_bytes_done(0);
    snapshot_.set_fetch_bytes_total(static_cast<double>(size));
  }
  auto last_log =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  o.progress = [this, version, size, last_log](uint64_t done, uint64_t total) {
    {
      std::lock_guard lock(mu_);
      snapshot_.set_fetch_bytes_done(static_cast<double>(done));
      snapshot_.set_fetch_bytes_total(static_cast<double>(total > 0 ? total : size));
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - *last_log >= std::chrono::seconds(5)) {
      *last_log = now;
      spdlog::info("meta: fetching {}: {} of {} bytes", version, done, total > 0 ? total : size);
    }
  };
  return o;
}

void MetaSync::Pass(bool fetch) {
  const bool remote = !options_.settings.url().empty();
  if (fetch) {
    auto fetched = FetchRemote();
    std::lock_guard lock(mu_);
    snapshot_.set_fetches(snapshot_.fetches() + 1);
    if (!fetched) {
      snapshot_.set_fetch_failures(snapshot_.fetch_failures() + 1);
      if (snapshot_.remote_ok())
        spdlog::warn("meta: {}; commits stay queued", fetched.error().message());
      snapshot_.set_remote_ok(false);
      snapshot_.set_last_error(fetched.error().message());
    } else if (!snapshot_.remote_ok()) {
      spdlog::info("meta: the remote answers again");
      snapshot_.set_remote_ok(true);
    }
  }
  if (remote) {
    auto applied = store_->Integrate(HostDir());
    if (!applied) {
      SetError("cannot bring meta up to date: " + applied.error().message());
    } else if (*applied > 0) {
      spdlog::info("meta: re-applied {} local commit(s) on the remote's tip", *applied);
    }
  }
  CommitDecisions();
  CommitStatus();
  if (remote && options_.settings.push()) PushQueued();
  Follow();
  ReadFleetView();
  if (remote) {
    auto ahead = store_->Ahead();
    std::lock_guard lock(mu_);
    if (ahead) snapshot_.set_queued(*ahead);
  }
}

void MetaSync::ReadFleetView() {
  constexpr auto kFleetEvery = 30s;
  const auto now = clock_->Now();
  if (now < next_fleet_read_) return;
  auto tip = store_->Tip();
  if (!tip || *tip == fleet_tip_) return;
  next_fleet_read_ = now + kFleetEvery;
  fleet_tip_ = *tip;
  const MetaSettings& m = options_.settings;
  auto report = ReadFleetReport(*store_, m.project(), m.env(), clock_->WallNow());
  if (!report) {
    spdlog::warn("meta: cannot read the fleet view: {}", report.error().message());
    return;
  }
  std::lock_guard lock(mu_);
  if (report->members_size() > 1) {
    *snapshot_.mutable_fleet() = std::move(*report);
  } else {
    snapshot_.clear_fleet();
  }
}

HostStatus MetaSync::CurrentStatus() const {
  HostStatus status;
  status.set_host(options_.settings.host());
  status.set_service(options_.service);
  std::lock_guard lock(mu_);
  status.set_running(running_);
  status.set_testing(testing_);
  status.set_since(since_);
  status.set_yoke_version(options_.yoke_version);
  status.set_error(status_error_);
  status.set_channel(options_.settings.channel());
  status.set_meta_commit(acted_commit_);
  status.set_channel_release(acted_release_);
  for (const SourceRevision& source : acted_sources_) *status.add_sources() = source;
  return status;
}

void MetaSync::CommitDecisions() {
  std::vector<fs::path> files;
  for (fs::path& file : ListDecisionFiles(*options_.env, base_paths::DecisionsDir(options_.base))) {
    if (!skipped_base_.contains(file.filename().string())) files.push_back(std::move(file));
  }
  // Decisions are only ever added: the same count as last time means all are in meta.
  if (files.size() == base_decisions_in_meta_) return;
  const std::string meta_dir = HostDir() + "/decisions";
  auto present = store_->ListFiles(meta_dir);
  if (!present) {
    SetError("cannot list " + meta_dir + ": " + present.error().message());
    return;
  }
  std::set<std::string> in_meta(present->begin(), present->end());
  std::sort(files.begin(), files.end());
  size_t skipped = 0;
  for (const fs::path& file : files) {
    const std::string path = meta_dir + "/" + file.filename().string();
    if (in_meta.contains(path)) continue;
    auto text = options_.env->ReadFile(file);
    Decision decision;
    if (!text || !ParseTextRecord(file.string(), *text, &decision)) {
      spdlog::warn("meta: decision {} does not parse; not committed", file.string());
      skipped_base_.insert(file.filename().string());
      ++skipped;
      continue;
    }
    // Traceability: the meta commit and sources of the release the decision was about, when
    // the supervisor did not record them itself (the base copy stays as it was written).
    std::string meta_text = *text;
    if (decision.meta_commit().empty()) {
      std::lock_guard lock(mu_);
      if (auto known = provenance_.find(decision.to_version()); known != provenance_.end()) {
        decision.set_meta_commit(known->second.first);
        for (const SourceRevision& source : known->second.second) {
          *decision.add_sources() = source;
        }
        if (auto printed = PrintTextRecord(decision)) meta_text = *printed;
      }
    }
    auto status = PrintTextRecord(CurrentStatus());
    std::vector<FileChange> changes = {{path, meta_text}};
    if (status) changes.push_back({HostDir() + "/status.txtpb", *status});
    auto committed = store_->Commit(changes, meta::DecisionCommitMessage(decision), HostAuthor());
    if (!committed) {
      SetError("cannot commit decision " + file.filename().string() + ": " +
               committed.error().message());
      return;
    }
    std::lock_guard lock(mu_);
    snapshot_.set_commits(snapshot_.commits() + 1);
  }
  base_decisions_in_meta_ = files.size() - skipped;
}

void MetaSync::CommitStatus() {
  HostStatus status = CurrentStatus();
  if (status.since().empty()) return;  // the supervisor has not said anything yet
  const std::string key = status.running() + "\n" + status.testing() + "\n" + status.error() +
                          "\n" + status.yoke_version() + "\n" + status.channel() + "\n" +
                          status.meta_commit();
  const SteadyTime now = clock_->Now();
  const auto heartbeat = std::chrono::seconds(options_.settings.heartbeat_s());
  if (key == status_in_meta_ && now < next_heartbeat_) return;
  auto old = meta::Read<HostStatus>(*store_, HostDir() + "/status.txtpb");
  bool beat = false;  // only the heartbeat is due: the roles are as meta says
  if (old && *old && (*old)->running() == status.running() &&
      (*old)->testing() == status.testing() && (*old)->error() == status.error() &&
      (*old)->yoke_version() == status.yoke_version() && (*old)->channel() == status.channel() &&
      (*old)->meta_commit() == status.meta_commit()) {
    status_in_meta_ = key;
    const auto seen = ParseUtc((*old)->seen());
    const auto age = seen ? clock_->WallNow() - *seen : heartbeat;
    if (heartbeat.count() == 0 || age < heartbeat) {
      next_heartbeat_ =
          now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(heartbeat - age);
      return;
    }
    beat = true;
  }
  status.set_seen(FormatRfc3339(clock_->WallNow()));
  auto text = PrintTextRecord(status);
  if (!text) return;
  std::string message = fmt::format("{} on {}: {}running {}, testing {}{}", options_.service,
                                    options_.settings.host(), beat ? "seen; " : "",
                                    status.running().empty() ? "none" : status.running(),
                                    status.testing().empty() ? "none" : status.testing(),
                                    status.error().empty() ? "" : " (" + status.error() + ")");
  auto committed = store_->Commit({{HostDir() + "/status.txtpb", *text}}, message, HostAuthor());
  if (!committed) {
    SetError("cannot commit host status: " + committed.error().message());
    return;
  }
  status_in_meta_ = key;
  next_heartbeat_ = now + heartbeat;
  std::lock_guard lock(mu_);
  snapshot_.set_commits(snapshot_.commits() + 1);
}

void MetaSync::PushQueued() {
  if (clock_->Now() < next_push_) return;
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto ahead = store_->Ahead();
    if (!ahead || *ahead == 0) {
      push_backoff_ = 0ms;
      refusals_in_row_ = 0;
      return;
    }
    auto pushed = store_->Push();
    const bool refused = !pushed && pushed.error().code() == ErrorCode::kConflict;
    if (!pushed && !refused) CountRemoteFailure();
    if (pushed) {
      // A remote without atomic ref updates (a plain path) may let another host overwrite this
      // push; fetching again shows whether it landed, and what is missing stays queued.
      if (FetchRemote() && store_->Integrate(HostDir())) {
        std::lock_guard lock(mu_);
        snapshot_.set_pushes(snapshot_.pushes() + 1);
        snapshot_.set_remote_ok(true);
        continue;
      }
    }
    {
      std::lock_guard lock(mu_);
      snapshot_.set_push_failures(snapshot_.push_failures() + 1);
      if (!pushed) snapshot_.set_last_error(pushed.error().message());
    }
    // Someone else pushed first, or the remote is away: catch up and try again.
    if (auto fetched = FetchRemote(); !fetched) {
      std::lock_guard lock(mu_);
      if (snapshot_.remote_ok())
        spdlog::warn("meta: {}; commits stay queued", fetched.error().message());
      snapshot_.set_remote_ok(false);
      snapshot_.set_last_error(fetched.error().message());
      break;
    }
    if (auto applied = store_->Integrate(HostDir()); !applied) break;
    if (refused) {
      // Another host pushed first. If every refused host tried again at once, most would lose
      // again, each after a fetch and a rebase: a random wait that doubles with each refusal
      // in a row spreads them out (exponential backoff with full jitter).
      thread_local std::minstd_rand random(std::random_device{}());
      refusals_in_row_ = std::min(refusals_in_row_ + 1, 16);
      const auto window = std::min<std::chrono::milliseconds>(
          kMaxPushBackoff, std::chrono::milliseconds(100 << std::min(refusals_in_row_, 9)));
      next_push_ = clock_->Now() + std::chrono::milliseconds(random() % (window.count() + 1));
      return;
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(50 << attempt), [&] { return stop_; });
    if (stop_) return;
  }
  auto ahead = store_->Ahead();
  if (ahead && *ahead > 0) {
    push_backoff_ = std::min<std::chrono::milliseconds>(
        kMaxPushBackoff, std::max<std::chrono::milliseconds>(1s, push_backoff_ * 2));
    push_backoff_ = std::min<std::chrono::milliseconds>(
        push_backoff_,
        std::chrono::seconds(std::max<uint32_t>(1, options_.settings.poll_interval_s())));
    next_push_ = clock_->Now() + push_backoff_;
    spdlog::warn("meta: {} commit(s) wait for the remote; next push in {} ms", *ahead,
                 push_backoff_.count());
  }
}

Status MetaSync::FetchRemote() {
  Status fetched = store_->Fetch();
  if (!fetched) {
    CountRemoteFailure();
    return fetched;
  }
  if (auto rewrite = store_->TakeRewrite()) {
    // An operator force-pushed (to retract a channel move, or remove a secret). Nothing of the
    // old history goes back: Integrate re-applies only this host's unpushed commits. What this
    // host had in meta is written again from the base at the next pass.
    spdlog::warn(
        "meta: the remote's history was rewritten ({}); only this host's unpushed "
        "commits under {} are re-applied",
        *rewrite, HostDir());
    status_in_meta_.clear();
    base_decisions_in_meta_ = 0;
    rejected_tip_.clear();
    std::lock_guard lock(mu_);
    snapshot_.set_rewrites(snapshot_.rewrites() + 1);
    snapshot_.set_last_rewrite(*rewrite);
  }
  return fetched;
}

void MetaSync::CountRemoteFailure() {
  std::lock_guard lock(mu_);
  switch (store_->last_failure()) {
    case RemoteFailure::kCredentials:
      snapshot_.set_credential_failures(snapshot_.credential_failures() + 1);
      break;
    case RemoteFailure::kHostKey:
      snapshot_.set_host_key_failures(snapshot_.host_key_failures() + 1);
      break;
    case RemoteFailure::kCertificate:
      snapshot_.set_certificate_failures(snapshot_.certificate_failures() + 1);
      break;
    case RemoteFailure::kTimeout:
      snapshot_.set_timeouts(snapshot_.timeouts() + 1);
      break;
    default:
      break;
  }
}

void MetaSync::NoteBadRecord(const std::string& path, const std::string& message) {
  std::string key = path + "@" + store_->BlobId(path);
  if (!bad_seen_.insert(key).second) return;
  spdlog::error("meta: bad record skipped: {}", message);
  std::lock_guard lock(mu_);
  snapshot_.set_bad_records(snapshot_.bad_records() + 1);
  snapshot_.set_last_error(message);
}

void MetaSync::SetError(const std::string& error) {
  spdlog::error("meta: {}", error);
  std::lock_guard lock(mu_);
  snapshot_.set_last_error(error);
}

void MetaSync::Follow() {
  const auto& m = options_.settings;
  // The service's policy overrides.
  const std::string policy_path = meta::ServicePath(m.project(), m.env(), options_.service);
  auto policy = meta::Read<ServicePolicy>(*store_, policy_path);
  if (!policy) {
    NoteBadRecord(policy_path, policy.error().message());
  } else {
    std::lock_guard lock(mu_);
    policy_override_ = *policy;
  }

  // A host whose definition cannot be resolved keeps running what it runs (and says why).
  if (!ResolveEffective()) return;

  const std::string channel_path = meta::ChannelPath(m.project(), m.env(), m.channel());
  auto channel = meta::Read<Channel>(*store_, channel_path);
  if (!channel) return NoteBadRecord(channel_path, channel.error().message());
  if (!*channel || (*channel)->release().empty()) return;
  const std::string version = (*channel)->release();
  // It names a record in meta, a drop and a version folder in the base: nothing but a version.
  if (!IsValidVersionString(version)) {
    return NoteBadRecord(channel_path, channel_path + ": release \"" + version +
                                           "\" is not a version (letters, digits, '.', '_', "
                                           "'+' and '-', at most 128)");
  }
  const std::string release_path = meta::ReleasePath(m.project(), version);
  auto release = meta::Read<Release>(*store_, release_path);
  if (!release) return NoteBadRecord(release_path, release.error().message());
  if (!*release) {
    return NoteBadRecord(release_path, channel_path + ": points at release " + version +
                                           ", which has no record " + release_path);
  }
  if ((*release)->version() != version) {
    return NoteBadRecord(release_path, release_path + ":1:1: version \"" + (*release)->version() +
                                           "\" does not match the file name");
  }
  {
    // The commit the host acts on: the tip at which it first saw the channel's release (or the
    // release's record) as it is now.
    const std::string seen = version + "@" + store_->BlobId(release_path);
    std::lock_guard lock(mu_);
    snapshot_.set_channel_release(version);
    if (seen != acted_key_) {
      auto tip = store_->Tip();
      acted_key_ = seen;
      acted_commit_ = tip ? *tip : "";
      acted_release_ = version;
      acted_sources_.assign((*release)->source().begin(), (*release)->source().end());
      provenance_[version] = {acted_commit_, acted_sources_};
      snapshot_.set_meta_commit(acted_commit_);
    }
  }

  // Versions this host rejected, read again only when the branch moved.
  if (auto tip = store_->Tip(); tip && *tip != rejected_tip_) {
    auto decisions = meta::ReadDecisions(*store_, HostDir() + "/decisions");
    if (decisions) {
      rejected_.clear();
      last_verdict_on_.clear();
      for (const DecisionEntry& entry : decisions->entries) {
        if (!entry.problem.empty()) {
          NoteBadRecord(entry.path, entry.problem);
          continue;
        }
        const Decision& d = entry.decision;
        if (d.verdict() == Verdict::REJECT || d.verdict() == Verdict::ROLLBACK) {
          auto& last = last_verdict_on_[d.to_version()];
          std::string& when = d.verdict() == Verdict::ROLLBACK ? last.rollback : last.reject;
          when = std::max(when, d.time());
        }
        if (d.verdict() == Verdict::REJECT) rejected_.insert(d.to_version());
        // An operator rolled back away from this version: the channel must not bring it back.
        if (d.verdict() == Verdict::ROLLBACK) rejected_.insert(d.from_version());
      }
      rejected_tip_ = *tip;
    }
  }
  // An operator's fleet-wide rollback order comes before what this host rejected.
  if ((*channel)->rollback().version() == version &&
      FollowRollback((*channel)->rollback(), **release)) {
    return;
  }
  if (rejected_.contains(version) || options_.is_current(version) || ReleaseHere(version)) {
    std::string running, testing;
    {
      std::lock_guard lock(mu_);
      running = running_;
      testing = testing_;
    }
    // What runs follows its definition, also when the channel's release is one this host
    // rejected (it runs another release then).
    if (!running.empty() && testing.empty()) {
      if (ReleaseOf(running) == version) {
        FollowDefinition(**release, running);
      } else if (auto own = meta::Read<Release>(*store_,
                                                meta::ReleasePath(m.project(), ReleaseOf(running)));
                 own && *own) {
        FollowDefinition(**own, running);
      }
    }
    return;
  }
  if (!RolloutWait(version).empty()) return;
  const std::string offer = version + "@" + store_->BlobId(release_path);
  if (offer == offered_) return;
  offered_ = offer;
  if (!Offer(**release)) offered_.clear();
}

std::string MetaSync::RolloutWait(const std::string& version) {
  const auto& m = options_.settings;
  const std::string path = meta::RolloutPath(m.project(), m.env(), m.channel());
  auto rollout = meta::Read<Rollout>(*store_, path);
  std::string why;
  if (!rollout) {
    NoteBadRecord(path, rollout.error().message());
    why = "the rollout record does not parse: " + rollout.error().message();
  } else if (*rollout) {
    const RolloutGate gate = GateFor(**rollout, version, m.host());
    const RolloutState& state = (*rollout)->state();
    bool fresh;  // nothing runs here: taking the release changes nothing users had
    {
      std::lock_guard lock(mu_);
      fresh = running_.empty();
    }
    const bool halted_here = state.release() == version && !state.halt().time().empty();
    if (!gate.open && !(fresh && !halted_here)) why = gate.why;
  }
  if (why != rollout_said_) {
    if (!why.empty()) spdlog::info("meta: {} is not taken yet: {}", version, why);
    rollout_said_ = why;
  }
  std::lock_guard lock(mu_);
  snapshot_.set_rollout_wait(why);
  return why;
}

bool MetaSync::FollowRollback(const FleetRollback& order, const Release& release) {
  const std::string& version = order.version();
  const std::string key = order.time() + " " + version;
  if (key == rollback_done_ || !options_.rollback) return false;
  auto done_as = [&](const std::string& what) {
    spdlog::warn("meta: fleet-wide rollback to {} (ordered {} by {}): {}", version, order.time(),
                 order.author(), what);
    rollback_done_ = key;
    std::lock_guard lock(mu_);
    snapshot_.set_fleet_rollback(fmt::format("{} at {}: {}", version, order.time(), what));
    return false;
  };
  // Carried out before (a restart since): this host rolled back to it, or judged it, since.
  // Times are whole seconds: a rollback in the order's second was made for it, a rejection in
  // that second came before it (judging takes a window), and the order still holds.
  if (auto it = last_verdict_on_.find(version);
      it != last_verdict_on_.end() &&
      (it->second.rollback >= order.time() || it->second.reject > order.time())) {
    return done_as("carried out before");
  }
  std::string running, testing;
  {
    std::lock_guard lock(mu_);
    running = running_;
    testing = testing_;
  }
  if (running == version) return done_as(version + " is running already");
  auto done = options_.rollback(version, "fleet-wide rollback: " + order.reason(), order.author(),
                                order.now());
  if (done) {
    done_as(*done);
    return true;  // the supervisor's roles change at its next tick
  }
  if (!order.now() && testing == version) return done_as(version + " is testing already");
  if (done.error().code() == ErrorCode::kNotFound) {
    // No copy on this host: fetched like any release, it becomes testing; with --now the next
    // pass rolls back to it at once, without it the judge decides as for any candidate.
    const std::string offer = version + "@rollback " + order.time();
    if (offer != offered_) {
      offered_ = offer;
      if (!Offer(release)) offered_.clear();
    }
    if (!order.now()) rollback_done_ = key;
    return true;
  }
  if (done.error().message() != rollback_said_) {
    rollback_said_ = done.error().message();
    spdlog::warn("meta: fleet-wide rollback to {} not carried out yet: {}", version,
                 rollback_said_);
  }
  return true;
}

bool MetaSync::Offer(const Release& release, const std::string& as_version) {
  const std::string version = as_version.empty() ? release.version() : as_version;
  const Artifact& artifact = release.artifact();
  const std::string drop_name = options_.identifier + "-" + version + ExtensionOf(artifact.uri());
  const fs::path staging_dir = base_paths::FetchDir(options_.base);
  const fs::path staging = staging_dir / (drop_name + ".part");
  Env& env = *options_.env;
  if (auto made = env.CreateDirs(staging_dir); !made) {
    SetError(made.error().message());
    return true;
  }
  // No room: nothing is fetched, it is said once, and the next pass asks again.
  if (auto full = options_.no_room && artifact.size() > 0 ? options_.no_room(artifact.size())
                                                          : std::nullopt) {
    const std::string offer = version + "@" + artifact.sha256();
    if (waiting_for_room_ != offer) {
      waiting_for_room_ = offer;
      spdlog::warn("meta: release {} waits: {}", version, *full);
      std::lock_guard lock(mu_);
      snapshot_.set_artifact_failures(snapshot_.artifact_failures() + 1);
      snapshot_.set_last_error(*full);
      status_error_ = "release " + version + ": " + *full;
    }
    return false;
  }
  waiting_for_room_.clear();
  FileDigest digest;
  // What is wrong with the release's artifact, or "" once it is fetched and checked.
  auto fetch = [&]() -> std::string {
    if (artifact.size() == 0) {
      return "release " + version + " gives no artifact size; an empty artifact is refused";
    }
    spdlog::info("meta: channel {} points at {}: fetching {}", options_.settings.channel(), version,
                 artifact.uri());
    auto fetched =
        FetchArtifact(artifact.uri(), staging, FetchOptionsFor(version, artifact.size()));
    {
      std::lock_guard lock(mu_);
      snapshot_.clear_fetching();
      snapshot_.clear_fetch_bytes_done();
      snapshot_.clear_fetch_bytes_total();
    }
    if (!fetched) return fetched.error().message();
    if (fetched->size != artifact.size()) {
      return fmt::format("artifact {} has {} bytes; release {} says {}", artifact.uri(),
                         fetched->size, version, artifact.size());
    }
    if (fetched->sha256 != artifact.sha256()) {
      return fmt::format("artifact {} has sha256 {}; release {} says {}", artifact.uri(),
                         fetched->sha256, version,
                         artifact.sha256().empty() ? "nothing" : artifact.sha256());
    }
    digest = *fetched;
    return "";
  };
  const std::string problem = fetch();
  if (!problem.empty()) {
    (void)env.Remove(staging);
    spdlog::error("meta: release {} not started: {}", version, problem);
    std::lock_guard lock(mu_);
    snapshot_.set_artifact_failures(snapshot_.artifact_failures() + 1);
    snapshot_.set_last_error(problem);
    status_error_ = "release " + version + ": " + problem;
    return true;
  }
  // The definition its instances start with is in the base before the artifact is.
  if (Status written = WriteDefinitionFor(version); !written) {
    (void)env.Remove(staging);
    SetError(written.error().message());
    return true;
  }
  // The download is synced (FetchArtifact); its name in the base is, once the base is synced.
  const fs::path drop = options_.base / drop_name;
  Status moved = env.Rename(staging, drop);
  if (moved) moved = env.SyncDir(options_.base);
  if (!moved) {
    SetError("cannot hand " + drop.string() + " to the intake: " + moved.error().message());
    return true;
  }
  spdlog::info("meta: release {} checked (sha256 {}, {} bytes) and handed to the intake as {}",
               version, digest.sha256, digest.size, drop.string());
  std::lock_guard lock(mu_);
  snapshot_.set_candidates_offered(snapshot_.candidates_offered() + 1);
  status_error_.clear();
  return true;
}

}  // namespace yoke::meta
