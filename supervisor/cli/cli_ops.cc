#include "supervisor/cli/cli_ops.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include "base-layout/archive.h"
#include "base-layout/base_folder.h"
#include "base-layout/text_record.h"
#include "core/config_check.h"
#include "core/duration_text.h"
#include "core/record_text.h"
#include "meta/layout.h"
#include "platform/posix_env.h"
#include "supervisor/cli/cli_common.h"
#include "supervisor/cli/cli_help.h"
#include "supervisor/cli/decision_source.h"
#include "supervisor/cli/ops_format.h"
#include "supervisor/cli/ops_json.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

// Says on stderr, for `command`, each record of `listing` that does not parse.
void ReportProblems(const DecisionListing& listing, const std::string& command) {
  for (const DecisionEntry& entry : listing.entries) {
    if (entry.problem.empty()) continue;
    std::cerr << command << ": skipped a record that does not parse: " << entry.problem << "\n";
  }
}

// The newest decision, as one line under a heading, or a note that there is none.
void PrintLastDecision(const DecisionSource& source) {
  DecisionListing last = source.List(1);
  std::cout << "\nlast decision\n";
  if (last.entries.empty()) {
    std::cout << "  none in " << source.Describe() << "\n";
  } else {
    std::cout << "  " << FormatDecisionList(last.entries);
  }
  ReportProblems(last, "yoke status");
}

// The source `choice` names, or nullptr after saying on stderr why it cannot be read.
std::unique_ptr<DecisionSource> OpenDecisionSource(const Config& config,
                                                   const DecisionSourceChoice& choice,
                                                   const std::string& command) {
  auto source = MakeDecisionSource(config, choice);
  if (!source) {
    std::cerr << command << ": " << source.error().message() << "\n";
    return nullptr;
  }
  return std::move(*source);
}

// What the base folder shows when no yoke answers: the role links with their instance records,
// and the journal.
BaseView ReadBaseView(const BaseFolder& base) {
  BaseView view;
  view.base = base.root();
  for (const char* role : {"running", "testing"}) {
    RoleOnDisk r;
    r.role = role;
    if (auto target = base.RoleTarget(role)) {
      r.instance_dir = target->filename().string();
      InstanceRecord record;
      if (auto st = ReadTextRecord(base.env(), base_paths::InstanceRecord(*target), &record); !st) {
        r.problem = st.error().message();
      } else {
        r.state = InstanceState(record);
        r.record = record;
      }
    }
    view.roles.push_back(std::move(r));
  }
  Journal journal;
  if (auto st = ReadTextRecord(base.env(), base.JournalPath(), &journal); st) {
    view.journal = journal;
  } else if (!st.error().is(ErrorCode::kNotFound)) {
    view.journal_problem = "unreadable: " + st.error().message();
  }
  return view;
}

// A pid in state/yoke.lock that is alive hints at a yoke whose admin API is elsewhere.
std::optional<int> LiveLockPid(const BaseFolder& base) {
  auto text = base.env().ReadFile(base_paths::Lock(base.root()));
  if (!text) return std::nullopt;
  int pid = std::atoi(text->c_str());
  if (pid <= 0 || ::kill(pid, 0) != 0) return std::nullopt;
  return pid;
}

int StatusOnce(const std::string& config_path, bool as_json) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  BaseFolder base = BaseOf(*config);
  auto decisions = OpenDecisionSource(*config, {}, "yoke status");
  if (!decisions) return kExitFailure;
  AdminCall call = CallAdmin(config->admin_listen(), "GET", "/status");
  if (call.outcome == AdminCall::Outcome::kAnswered && call.status == 200) {
    if (as_json) {
      std::cout << call.body;
      return kExitOk;
    }
    auto view = FormatStatus(call.body);
    if (!view) {
      std::cerr << "yoke status: " << view.error().message() << " (from " << call.where << ")\n";
      return kExitFailure;
    }
    std::cout << *view;
    PrintLastDecision(*decisions);
    return kExitOk;
  }

  if (call.where.empty()) {  // admin_listen itself is unusable
    std::cerr << "yoke status: " << call.error << "\n";
    return kExitUsage;
  }
  switch (call.outcome) {
    case AdminCall::Outcome::kUnreachable:
      std::cerr << "yoke status: yoke is not running: nothing answers on its admin API at "
                << call.where << " (" << call.error << ")\n";
      break;
    case AdminCall::Outcome::kNoAnswer:
      std::cerr << "yoke status: the admin API at " << call.where
                << " took the connection but gave no answer (" << call.error
                << "); is yoke stuck, or is something else listening there?\n";
      break;
    case AdminCall::Outcome::kAnswered:
      std::cerr << "yoke status: the admin API at " << call.where << " answered HTTP "
                << call.status << ": " << call.body << "\n";
      break;
  }
  if (auto pid = LiveLockPid(base)) {
    std::cerr << "yoke status: note: " << base_paths::Lock(base.root()).string() << " names pid "
              << *pid << ", which is alive; if it is a yoke, check admin_listen in " << config_path
              << "\n";
  }
  if (as_json) return kExitFailure;
  std::cout << "what the base folder shows:\n" << FormatBaseView(ReadBaseView(base));
  PrintLastDecision(*decisions);
  return kExitFailure;
}

// `yoke status --watch`: the same view redrawn every `interval` (in place on a terminal, like
// `watch`; separated by a blank line otherwise), until Ctrl-C or `count` redraws.
int StatusCommand(const std::string& config_path, bool as_json, bool watch,
                  std::chrono::milliseconds interval, size_t count) {
  if (!watch) return StatusOnce(config_path, as_json);
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  int code = kExitOk;
  for (size_t n = 0; count == 0 || n < count; ++n) {
    if (n > 0) std::this_thread::sleep_for(interval);
    if (tty)
      std::cout << "\033[H\033[2J";  // home, clear screen
    else if (n > 0)
      std::cout << "\n";
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    char stamp[64];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S %Z", &tm);
    if (!as_json) {
      std::cout << "every "
                << (interval.count() < 1000 ? std::to_string(interval.count()) + "ms"
                                            : HumanDuration(interval.count() / 1000))
                << ": yoke status " << config_path << "  " << stamp << "\n\n";
    }
    std::cout.flush();
    code = StatusOnce(config_path, as_json);
    std::cout.flush();
  }
  return code;
}

int DecisionsCommand(const std::string& config_path, size_t limit,
                     const DecisionSourceChoice& choice, bool as_json) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  auto source = OpenDecisionSource(*config, choice, "yoke decisions");
  if (!source) return kExitFailure;
  DecisionListing listing = source->List(limit);
  if (!listing.error.empty()) {
    std::cerr << "yoke decisions: cannot read " << source->Describe() << ": " << listing.error
              << "\n";
    return kExitFailure;
  }
  ReportProblems(listing, "yoke decisions");
  if (as_json) {
    std::cout << DecisionListJson(source->Describe(), listing);
    return kExitOk;
  }
  if (listing.entries.empty()) {
    std::cout << "no decisions in " << source->Describe() << "\n";
  } else {
    std::cout << FormatDecisionList(listing.entries);
  }
  return kExitOk;
}

int DecisionShowCommand(const std::string& config_path, const std::string& id,
                        const DecisionSourceChoice& choice, bool as_json) {
  auto config = LoadOrReport(config_path);
  if (!config) return kExitUsage;
  auto source = OpenDecisionSource(*config, choice, "yoke decisions show");
  if (!source) return kExitFailure;
  DecisionListing listing = source->List();
  if (!listing.error.empty()) {
    std::cerr << "yoke decisions show: cannot read " << source->Describe() << ": " << listing.error
              << "\n";
    return kExitFailure;
  }
  DecisionMatch match = FindDecision(listing, id);
  if (match.entry && !match.entry->problem.empty()) {
    std::cerr << "yoke decisions show: the record does not parse: " << match.entry->problem << "\n";
    return kExitFailure;
  }
  if (match.entry) {
    std::cout << (as_json ? DecisionJson(*match.entry) : FormatDecision(*match.entry));
    return kExitOk;
  }
  if (!match.ambiguous.empty()) {
    std::cerr << "yoke decisions show: '" << id << "' names " << match.ambiguous.size()
              << " decisions; give more of the id:\n";
    for (const std::string& other : match.ambiguous) std::cerr << "  " << other << "\n";
    return kExitUsage;
  }
  std::cerr << "yoke decisions show: no decision '" << id << "' in " << source->Describe()
            << " (yoke decisions lists them)\n";
  return kExitFailure;
}

// The version folder an archive holds: the top folder of its entries.
std::string VersionInArchive(const std::vector<ArchiveEntry>& entries) {
  for (const ArchiveEntry& e : entries) {
    size_t slash = e.path.find('/');
    if (slash != std::string::npos && slash > 0) return e.path.substr(0, slash);
  }
  return {};
}

}  // namespace

std::vector<ArchiveRow> ArchiveRows(const BaseFolder& base) {
  std::vector<ArchiveRow> rows;
  auto archives = base.ListArchives();
  std::reverse(archives.begin(), archives.end());
  for (const ArchiveInfo& a : archives) {
    ArchiveRow row{a.path.filename().string(), {}, a.size, a.mtime_ns};
    if (auto entries = ListZip(a.path)) {
      row.version = VersionInArchive(*entries);
    } else {
      std::cerr << "yoke archive: " << entries.error().message() << "\n";
    }
    if (row.version.empty()) {
      std::string stem = a.path.stem().string();
      const std::string prefix = base.identifier() + "-";
      row.version = stem.starts_with(prefix) ? stem.substr(prefix.size()) + " (?)" : "?";
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {

// The archive `wanted` names: a version (the newest archive of it), or an archive's file name
// with or without .zip (hello-1.0.0.2.zip: the second archive of 1.0.0).
std::optional<ArchiveRow> FindArchive(const BaseFolder& base, const std::string& wanted) {
  auto rows = ArchiveRows(base);
  for (const ArchiveRow& row : rows) {
    if (row.file == wanted || fs::path(row.file).stem() == wanted) return row;
  }
  if (auto newest = base.NewestArchiveOf(wanted)) {
    for (const ArchiveRow& row : rows) {
      if (row.file == newest->filename().string()) return row;
    }
  }
  return std::nullopt;
}

int ArchiveListCommand(const Config& config, bool as_json) {
  BaseFolder base = BaseOf(config);
  auto rows = ArchiveRows(base);
  std::cout << (as_json ? ArchiveListJson(rows) : FormatArchiveList(rows));
  return kExitOk;
}

int ArchiveShowCommand(const Config& config, const std::string& version) {
  BaseFolder base = BaseOf(config);
  auto row = FindArchive(base, version);
  if (!row) {
    std::cerr << "yoke archive show: no archive of " << version << " in "
              << base_paths::ArchiveDir(base.root()).string()
              << " (yoke archive list shows them)\n";
    return kExitFailure;
  }
  ArchiveContents contents;
  contents.row = *row;
  contents.path = base_paths::ArchiveDir(base.root()) / row->file;
  contents.properties_name = fs::path(config.properties_file()).filename().string();
  auto entries = ListZip(contents.path);
  if (!entries) {
    std::cerr << "yoke archive show: " << entries.error().message() << "\n";
    return kExitFailure;
  }
  contents.entries = std::move(*entries);
  auto records = ReadZipFiles(contents.path, [](const std::string& path) {
    return path.ends_with("/instance.txtpb") && path.find("/instances/") != std::string::npos;
  });
  if (!records) {
    std::cerr << "yoke archive show: " << records.error().message() << "\n";
  } else {
    for (const auto& [path, text] : *records) {
      std::string folder = fs::path(path).parent_path().filename().string();
      InstanceRecord record;
      if (auto st = ParseTextRecord(contents.path.string() + ":" + path, text, &record); !st) {
        contents.record_problems[folder] = st.error().message();
      } else {
        contents.records[folder] = record;
      }
    }
  }
  std::cout << FormatArchiveShow(contents);
  return kExitOk;
}

int ArchiveExtractCommand(const Config& config, const std::string& version, const fs::path& dir,
                          bool force) {
  BaseFolder base = BaseOf(config);
  auto row = FindArchive(base, version);
  if (!row) {
    std::cerr << "yoke archive extract: no archive of " << version << " in "
              << base_paths::ArchiveDir(base.root()).string()
              << " (yoke archive list shows them)\n";
    return kExitFailure;
  }
  fs::path zip = base_paths::ArchiveDir(base.root()) / row->file;
  auto written = UnzipTo(zip, dir, {.into_non_empty = force});
  if (!written) {
    std::cerr << "yoke archive extract: " << written.error().message() << "\n";
    return kExitFailure;
  }
  std::cout << "extracted " << zip.string() << "\n" << FormatExtracted(*written, dir);
  return kExitOk;
}

// Storage for the options the commands are given; outlives app.parse().
struct OpsOptions {
  std::string config_path;
  bool json = false;
  bool watch = false;
  std::string interval = "2s";
  size_t count = 0;
  size_t limit = 20;
  std::string id;
  std::string version;
  std::string to;
  bool force = false;
  DecisionSourceChoice source;
  CLI::App* status = nullptr;
  CLI::App* decisions = nullptr;
  CLI::App* show = nullptr;
  CLI::App* archive = nullptr;
  CLI::App* archive_list = nullptr;
  CLI::App* archive_show = nullptr;
  CLI::App* archive_extract = nullptr;
};

}  // namespace

StatusOr<std::unique_ptr<DecisionSource>> MakeDecisionSource(const Config& config,
                                                             const DecisionSourceChoice& choice) {
  if (!choice.meta) {
    return std::make_unique<FolderDecisionSource>(PosixEnv(),
                                                  base_paths::DecisionsDir(config.base_dir()));
  }
  MetaSettings m = MetaSettingsOf(config);
  if (!choice.host.empty()) {
    if (!IsSafeComponent(choice.host)) return Fail("--host \"" + choice.host + "\" is not a name");
    m.set_host(choice.host);
  }
  // <base>/meta is read at the branch the config follows; a repository given with --repo (a
  // clone) at the branch its HEAD names, as `yoke meta` reads it.
  const bool own = choice.repo.empty();
  const std::string repo = own ? base_paths::MetaDir(config.base_dir()).string() : choice.repo;
  auto store = meta::GitStore::Open(repo, own ? m.branch() : "");
  if (!store) {
    std::string why = store.error().message();
    if (own && !config.meta().enabled()) {
      why += " (the config turns meta off; give a clone of meta with --repo DIR)";
    }
    return Fail(why);
  }
  return std::make_unique<MetaDecisionSource>(
      std::move(*store), meta::DecisionsDir(m.project(), m.env(), m.host(), config.service()));
}

std::function<std::optional<int>()> AddOpsCommands(CLI::App& app) {
  auto o = std::make_shared<OpsOptions>();
  const char* kConfigHelp = "config file, the one `yoke run` uses";

  o->status = app.add_subcommand(
      "status",
      "Show running and testing, the evidence so far, the judge's reading and the last "
      "decision, from the running yoke's admin API. When yoke is not running, say so, show what "
      "the base folder holds, and exit 1.");
  o->status->add_option("--config,-c", o->config_path, kConfigHelp)->required();
  AddConfigName(o->status, &o->config_path);
  o->status->add_flag("--json", o->json, "print the admin API's /status JSON unchanged");
  o->status->add_flag("--watch,-w", o->watch,
                      "redraw every --interval (in place on a terminal) until Ctrl-C");
  o->status->add_option("--interval", o->interval, "with --watch: how often (2s, 1m)")
      ->capture_default_str();
  o->status->add_option("--count", o->count, "with --watch: stop after N redraws (0: never)")
      ->capture_default_str();
  o->status->footer(
      "Examples:\n  yoke status hello               (reads /etc/yoke/hello.txtpb)\n"
      "  yoke status --config /etc/yoke/hello.txtpb --watch\n"
      "  YOKE_CONFIG=/etc/yoke/hello.txtpb yoke status --json | jq .judge\n");

  o->decisions = app.add_subcommand(
      "decisions",
      "List decisions, newest first, one line each: id, time, verdict, from -> to, author, "
      "reason, from <base>/decisions/ or, with --meta, from this host's folder in meta. Records "
      "that do not parse are reported (path:line) and skipped.");
  o->decisions->fallthrough();  // --config may follow `show ID`
  o->decisions->add_option("--config,-c", o->config_path, kConfigHelp)->required();
  o->decisions->add_option("--limit,-n", o->limit, "at most this many (0: all)")
      ->capture_default_str();
  o->decisions->add_flag("--json", o->json, "print JSON (the records in protobuf JSON form)");
  o->decisions->add_flag("--meta", o->source.meta,
                         "read this host's decisions in meta (<base>/meta, or --repo) instead "
                         "of <base>/decisions/");
  o->decisions->add_option("--repo", o->source.repo,
                           "with --meta: a meta repository to read (a clone) instead of "
                           "<base>/meta");
  o->decisions->add_option("--host", o->source.host,
                           "with --meta: another host's decisions (default: the config's "
                           "meta.host, else this machine's host name)");
  o->decisions->footer(
      "Examples:\n  yoke decisions --config /etc/yoke/hello.txtpb --limit 5\n"
      "  yoke decisions --config /etc/yoke/hello.txtpb show 20261122T031055Z-1.0.0-to-2.0.0\n"
      "  yoke decisions --meta --config /etc/yoke/hello.txtpb\n"
      "  yoke decisions --meta --repo ~/meta --host web-3 --config /etc/yoke/hello.txtpb\n");
  o->decisions->require_subcommand(0, 1);
  o->show = o->decisions->add_subcommand(
      "show",
      "Print one decision in full: header, every gate with its figures, lost routes. Takes "
      "--config like `yoke decisions`.");
  o->show->add_option("id", o->id, "the decision's id as `yoke decisions` lists it, or its start")
      ->required();
  o->show->footer(
      "Example: yoke decisions show 20261122T031055Z-1.0.0-to-2.0.0 --config "
      "/etc/yoke/hello.txtpb\n");

  o->archive = app.add_subcommand(
      "archive", "Archived version folders (<base>/archive/*.zip): list, show, extract.");
  o->archive->fallthrough();
  o->archive->add_option("--config,-c", o->config_path, kConfigHelp)->required();
  o->archive->require_subcommand(1);
  o->archive->footer(
      "Examples:\n  yoke archive list --config /etc/yoke/hello.txtpb\n"
      "  yoke archive show 1.4.2 --config /etc/yoke/hello.txtpb\n"
      "  yoke archive extract 1.4.2 --to /tmp/hello-1.4.2 --config /etc/yoke/hello.txtpb\n");
  o->archive_list =
      o->archive->add_subcommand("list", "List archives, newest first: version, size, date.");
  o->archive_list->add_flag("--json", o->json, "print JSON");
  o->archive_list->footer("Example: yoke archive list --config /etc/yoke/hello.txtpb\n");
  o->archive_show = o->archive->add_subcommand(
      "show",
      "What an archived version held: the artifact, and each instance folder with its record, "
      "output, logs and properties copy.");
  o->archive_show->add_option("version", o->version, "a version, or an archive's file name")
      ->required();
  o->archive_show->footer("Example: yoke archive show 1.4.2 --config /etc/yoke/hello.txtpb\n");
  o->archive_extract = o->archive->add_subcommand(
      "extract",
      "Unpack an archive into DIR (as DIR/<version>/...). Refuses entries with absolute or .. "
      "paths, and a DIR that is not empty unless --force.");
  o->archive_extract->add_option("version", o->version, "a version, or an archive's file name")
      ->required();
  o->archive_extract->add_option("--to", o->to, "the folder to unpack into")->required();
  o->archive_extract->add_flag("--force", o->force, "write into DIR even if it is not empty");
  o->archive_extract->footer(
      "Example: yoke archive extract 1.4.2 --to /tmp/hello-1.4.2 --config "
      "/etc/yoke/hello.txtpb\n");

  return [o]() -> std::optional<int> {
    if (*o->status) {
      auto interval = ParseDurationText(o->interval);
      if (!interval || interval->count() < 100) {
        std::cerr << "yoke status: --interval: "
                  << (interval ? "at least 100ms" : interval.error().message()) << "\n";
        return kExitUsage;
      }
      return StatusCommand(o->config_path, o->json, o->watch, *interval, o->count);
    }
    if (*o->decisions) {
      if (!o->source.meta && (!o->source.repo.empty() || !o->source.host.empty())) {
        std::cerr << "yoke decisions: --repo and --host go with --meta\n";
        return kExitUsage;
      }
      if (*o->show) return DecisionShowCommand(o->config_path, o->id, o->source, o->json);
      return DecisionsCommand(o->config_path, o->limit, o->source, o->json);
    }
    if (*o->archive) {
      auto config = LoadOrReport(o->config_path);
      if (!config) return kExitUsage;
      if (*o->archive_list) return ArchiveListCommand(*config, o->json);
      if (*o->archive_show) return ArchiveShowCommand(*config, o->version);
      if (*o->archive_extract) return ArchiveExtractCommand(*config, o->version, o->to, o->force);
    }
    return std::nullopt;
  };
}

}  // namespace yoke
