// What the operator commands print. Over 500 lines because its three sections (decisions,
// archives, status) share the aligned Table and the human units at the top, and each is short;
// splitting them would put the shared helpers in a header of their own for no reader's gain.
#include "supervisor/cli/ops_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/clean_pass.h"
#include "core/record_text.h"
#include "proto/yoke/status.pb.h"

namespace yoke {
namespace {

namespace fs = std::filesystem;

// Rows of cells printed with every column but the last padded to its widest cell.
class Table {
 public:
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string Render(const std::string& indent = "") const {
    std::vector<size_t> widths;
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size(); ++i) {
        if (widths.size() <= i) widths.push_back(0);
        widths[i] = std::max(widths[i], row[i].size());
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line = indent;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Newlines and tabs in recorded text would break a one-line layout.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return text;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

template <typename Repeated>
std::string JoinRepeated(const Repeated& items, std::string_view sep) {
  return Join(std::vector<std::string>(items.begin(), items.end()), sep);
}

std::string VersionOrNone(const std::string& version) { return version.empty() ? "none" : version; }

std::string Percent(double rate) {
  return fmt::format("{:.{}f}%", rate * 100, rate != 0 && rate < 0.001 ? 3 : 2);
}

std::string Fraction(uint64_t count, uint64_t total) {
  if (total > 0) return fmt::format("{}/{}", count, total);
  return count > 0 ? std::to_string(count) : "-";
}

// A count from /status (a double: status.proto says why), as an integer.
std::string N(double count) { return fmt::format("{:.0f}", count); }

// Seconds from /status for HumanDuration: a value from the network, so NaN, negative and huge
// values are clamped rather than converted (which would be undefined).
int64_t Seconds(double seconds) {
  return std::isfinite(seconds) && seconds > 0 ? static_cast<int64_t>(std::min(seconds, 1e15)) : 0;
}

std::string RoleLine(bool present, const RoleStatus& role) {
  if (!present) return "none";
  if (!role.host().empty()) {  // `yoke proxy`: only an upstream address
    return role.host() + ":" + std::to_string(role.port());
  }
  std::string line = VersionOrNone(role.version()) + "  instance " +
                     std::to_string(role.instance()) + "  port " + std::to_string(role.port()) +
                     "  pid " + std::to_string(role.pid());
  if (role.up()) {
    line += "  up " + HumanDuration(Seconds(role.uptime_s()));
  } else {
    line += "  down (starting, or not healthy)";
  }
  return line;
}

// The testing side of the evidence: the counts /status gives, in words. Optional counts
// appear only when this yoke reports them.
std::string TestingCounts(const PairCountsStatus& c) {
  std::vector<std::string> parts = {
      "5xx where running was not " + N(c.testing_5xx_running_not()),
      "4xx where running was 2xx/3xx " + N(c.testing_4xx_running_ok()),
      "no answer " + N(c.testing_no_answer()),
  };
  if (c.has_testing_errors()) parts.push_back("5xx or no answer " + N(c.testing_errors()));
  if (c.has_testing_4xx()) parts.push_back("4xx " + N(c.testing_4xx()));
  parts.push_back("better than running " + N(c.testing_better()));
  return Join(parts, ", ");
}

std::string RunningCounts(const PairCountsStatus& c) {
  std::vector<std::string> parts = {"5xx " + N(c.running_errors())};
  if (c.has_running_4xx()) parts.push_back("4xx " + N(c.running_4xx()));
  return Join(parts, ", ");
}

std::string Progress(double value, double minimum, std::string_view unit) {
  std::string out =
      N(value) + std::string(unit) + " of " + N(minimum) + std::string(unit) + " minimum";
  if (value >= minimum) out += " (reached)";
  return out;
}

std::string InstanceSummary(const InstanceRecord& r) {
  std::vector<std::string> parts;
  if (!r.role().empty()) parts.push_back("role " + r.role());
  if (r.port()) parts.push_back("port " + std::to_string(r.port()));
  if (r.pid()) parts.push_back("pid " + std::to_string(r.pid()));
  if (!r.started_at().empty()) parts.push_back("started " + r.started_at());
  if (!r.ready_at().empty()) parts.push_back("ready " + r.ready_at());
  if (!r.stopped_at().empty()) parts.push_back("stopped " + r.stopped_at());
  if (!r.exit().empty()) parts.push_back(r.exit());
  return Join(parts, ", ");
}

// The judge's one pair count: against what a clean pass needs (core/clean_pass.h), which is
// min_pairs or, when the margins and confidence ask for more, that figure.
double CleanPassNeeded(const JudgeStatus& judge) {
  const double clean = std::isfinite(judge.clean_pass_pairs()) ? judge.clean_pass_pairs() : 0;
  return std::clamp(std::max(clean, judge.min_pairs()), 0.0, 1e15);
}

std::vector<std::string> PairsLines(const JudgeStatus& judge) {
  const double needed = CleanPassNeeded(judge);
  std::string line = N(judge.pairs()) + " of " + N(needed) + " a clean pass needs";
  if (needed > judge.min_pairs()) line += " (min_pairs " + N(judge.min_pairs()) + ")";
  return {"pairs", line};
}

std::vector<std::string> StillNeedsLine(const JudgeStatus& judge) {
  const CleanPassEstimate e =
      EstimateCleanPass(static_cast<uint64_t>(CleanPassNeeded(judge)), judge.pairs(),
                        judge.window_s(), judge.min_window_s());
  std::string line;
  if (e.left == 0 && e.seconds_left && *e.seconds_left <= 0) {
    line = "nothing: a clean pass can promote now";
  } else if (!e.seconds_left) {
    line = N(static_cast<double>(e.left)) + " pairs (no rate yet to time them)";
  } else {
    line = (e.left > 0 ? N(static_cast<double>(e.left)) + " pairs, about "
                       : std::string("no more pairs; about ")) +
           HumanDuration(Seconds(std::ceil(*e.seconds_left))) +
           fmt::format(" at {:.1f} pairs/s", e.pairs_per_s);
  }
  return {"still needs", line};
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string HumanDuration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  const int64_t d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60,
                s = seconds % 60;
  if (d > 0) return fmt::format("{}d {:02}h", d, h);
  if (h > 0) return fmt::format("{}h {:02}m", h, m);
  if (m > 0) return fmt::format("{}m {:02}s", m, s);
  return fmt::format("{}s", s);
}

std::string UtcText(int64_t unix_ns) {
  std::time_t seconds = static_cast<std::time_t>(unix_ns / 1000000000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// --- decisions ---

std::string DecisionMainReason(const Decision& d) {
  if (d.verdict() == Verdict::REJECT) {
    std::vector<std::string> failed;
    for (const Gate& gate : d.gates()) {
      if (gate.outcome() != "fail") continue;
      std::string part = "gate " + gate.name() + " failed";
      if (gate.culprits_size() > 0) part += ": " + JoinRepeated(gate.culprits(), ", ");
      failed.push_back(part);
    }
    if (!failed.empty()) return OneLine(Join(failed, "; "));
  }
  return d.reason().empty() ? "(no reason recorded)" : OneLine(d.reason());
}

std::string FormatDecisionList(const std::vector<DecisionEntry>& entries, bool with_place) {
  Table table;
  for (const DecisionEntry& e : entries) {
    if (!e.problem.empty()) continue;
    const Decision& d = e.decision;
    std::vector<std::string> row = {e.id};
    if (with_place) row.push_back(d.service() + " on " + (d.host().empty() ? "-" : d.host()));
    for (std::string cell :
         {d.time().empty() ? "-" : d.time(), Verdict_Name(d.verdict()),
          VersionOrNone(d.from_version()) + " -> " + VersionOrNone(d.to_version()),
          d.author().empty() ? "-" : d.author(), DecisionMainReason(d)}) {
      row.push_back(std::move(cell));
    }
    table.Add(std::move(row));
  }
  return table.Render();
}

std::string FormatDecision(const DecisionEntry& entry) {
  const Decision& d = entry.decision;
  Table head;
  head.Add({"decision", entry.id});
  head.Add({"file", entry.path});
  head.Add({"verdict", Verdict_Name(d.verdict())});
  head.Add({"from", VersionOrNone(d.from_version()) + " (running)"});
  head.Add({"to", VersionOrNone(d.to_version()) + " (candidate)"});
  head.Add({"time", d.time().empty() ? "-" : d.time()});
  head.Add({"author", d.author().empty() ? "-" : d.author()});
  head.Add({"service", d.service() + (d.host().empty() ? "" : " on " + d.host())});
  if (d.window_s() > 0 || d.pairs() > 0) {
    head.Add({"window", fmt::format("{} s, {} pairs", d.window_s(), d.pairs())});
  }
  head.Add({"reason", d.reason().empty() ? "(no reason recorded)" : OneLine(d.reason())});
  if (!d.meta_commit().empty()) head.Add({"meta commit", d.meta_commit()});
  for (const SourceRevision& source : d.sources()) {
    head.Add({"source", source.repo() + " " + source.githash()});
  }
  std::string out = head.Render();

  out += "\ngates\n";
  if (d.gates_size() == 0) {
    out += "  none recorded (the judge did not decide this one)\n";
  } else {
    Table gates;
    gates.Add({"gate", "outcome", "testing", "rate", "running", "rate", "margin", "z", "detail",
               "culprits"});
    for (const Gate& g : d.gates()) {
      const bool latency = g.name() == "latency";  // rates are mean ms, margin a ratio
      const bool counted = g.testing_total() > 0 || g.running_total() > 0;
      auto rate = [&](double r, uint64_t total) {
        if (latency) return fmt::format("{:.2f} ms", r);
        return total > 0 ? Percent(r) : std::string("-");
      };
      std::string margin = latency ? (g.margin() > 0 ? fmt::format("x{:.2f}", g.margin()) : "-")
                                   : (counted ? Percent(g.margin()) : "-");
      gates.Add({g.name(), g.outcome().empty() ? "-" : g.outcome(),
                 latency ? "-" : Fraction(g.testing_count(), g.testing_total()),
                 rate(g.testing_rate(), g.testing_total()),
                 latency ? "-" : Fraction(g.running_count(), g.running_total()),
                 rate(g.running_rate(), g.running_total()), margin,
                 counted ? fmt::format("{:.2f}", g.z()) : "-", OneLine(g.detail()),
                 JoinRepeated(g.culprits(), ", ")});
    }
    out += gates.Render("  ");
  }
  Table tail;
  tail.Add({"lost routes",
            d.lost_routes_size() ? JoinRepeated(d.lost_routes(), ", ") : std::string("none")});
  tail.Add({"new error kinds", d.new_error_kinds_size() ? JoinRepeated(d.new_error_kinds(), "; ")
                                                        : std::string("none")});
  tail.Add({"worse routes",
            d.worse_routes_size() ? JoinRepeated(d.worse_routes(), ", ") : std::string("none")});
  out += "\n" + tail.Render();
  return out;
}

// --- archives ---

std::string FormatArchiveList(const std::vector<ArchiveRow>& rows) {
  if (rows.empty()) return "no archives\n";
  Table table;
  table.Add({"VERSION", "SIZE", "ARCHIVED", "FILE"});
  for (const ArchiveRow& r : rows) {
    table.Add({r.version, HumanBytes(r.size), UtcText(r.mtime_ns), r.file});
  }
  return table.Render();
}

std::string FormatArchiveShow(const ArchiveContents& c) {
  Table head;
  head.Add({"archive", c.path.string()});
  head.Add({"version", c.row.version});
  head.Add({"size", HumanBytes(c.row.size) + ", archived " + UtcText(c.row.mtime_ns)});
  std::string out = head.Render();

  // Entries are "<version>/<path>"; the version folder's own entry is skipped.
  const std::string top = c.row.version + "/";
  Table artifact, other;
  // Files by instance folder name (NNNN order): kind, path in the folder, size.
  std::map<std::string, std::vector<std::vector<std::string>>> instances;
  for (const ArchiveEntry& e : c.entries) {
    std::string path = e.path.starts_with(top) ? e.path.substr(top.size()) : e.path;
    if (path.empty() || e.is_directory) continue;
    std::string size = e.is_symlink ? "-> " + e.link_target : HumanBytes(e.size);
    if (path.find('/') == std::string::npos) {
      artifact.Add({path, size});
      continue;
    }
    if (path.starts_with("instances/")) {
      std::string rest = path.substr(10);
      size_t slash = rest.find('/');
      if (slash != std::string::npos) {
        std::string folder = rest.substr(0, slash);
        std::string file = rest.substr(slash + 1);
        std::string kind = "other";
        if (file == "stdout" || file == "stderr") {
          kind = "output";
        } else if (file.starts_with("logs/")) {
          kind = "log";
        } else if (file == "instance.txtpb") {
          kind = "record";
        } else if (e.is_symlink) {
          kind = "link";
        } else if ((!c.properties_name.empty() && file == c.properties_name) ||
                   file.ends_with(".properties")) {
          kind = "properties";
        }
        instances[folder].push_back({kind, file, size});
        continue;
      }
    }
    other.Add({path, size});
  }
  out += "\nartifact\n";
  out += artifact.empty() ? "  (none)\n" : artifact.Render("  ");
  for (auto& [folder, files] : instances) {
    out += "\ninstance " + folder + "\n";
    if (auto r = c.records.find(folder); r != c.records.end()) {
      std::string summary = InstanceSummary(r->second);
      if (!summary.empty()) out += "  " + summary + "\n";
      if (!r->second.error().empty()) out += "  error: " + OneLine(r->second.error()) + "\n";
    } else if (auto p = c.record_problems.find(folder); p != c.record_problems.end()) {
      out += "  instance.txtpb unreadable: " + p->second + "\n";
    } else {
      out += "  no instance.txtpb\n";
    }
    // What an operator opens first comes first: output, logs, the properties copy, the record.
    static constexpr std::string_view kOrder[] = {"output", "log",  "properties",
                                                  "record", "link", "other"};
    auto rank = [](const std::string& kind) {
      return std::find(std::begin(kOrder), std::end(kOrder), kind) - std::begin(kOrder);
    };
    std::stable_sort(files.begin(), files.end(), [&](const auto& a, const auto& b) {
      return rank(a[0]) != rank(b[0]) ? rank(a[0]) < rank(b[0]) : a[1] < b[1];
    });
    Table table;
    for (const auto& row : files) table.Add(row);
    out += table.Render("  ");
  }
  if (!other.empty()) out += "\nother files\n" + other.Render("  ");
  return out;
}

std::string FormatExtracted(const std::vector<ArchiveEntry>& written, const fs::path& dir) {
  Table table;
  size_t files = 0;
  uint64_t bytes = 0;
  for (const ArchiveEntry& e : written) {
    std::string path = (dir / e.path).string();
    if (e.is_directory) {
      table.Add({"dir", path});
    } else if (e.is_symlink) {
      table.Add({"link", path, "-> " + e.link_target});
    } else {
      table.Add({"file", path, HumanBytes(e.size)});
      ++files;
      bytes += e.size;
    }
  }
  return table.Render() +
         fmt::format("{} files, {} written under {}\n", files, HumanBytes(bytes), dir.string());
}

// --- status ---

namespace {

// /status's "meta" object: where the repository is and whom it follows, what the channel points
// at, the commits and the queue, and what went wrong. An unreachable remote or a queue comes
// first, as a warning line.
std::string MetaLines(const MetaStatus& meta) {
  Table t;
  const std::string& url = meta.url();
  const bool remote_ok = url.empty() || meta.remote_ok();
  const double queued = meta.queued();
  std::vector<std::string> warnings;
  if (!remote_ok) warnings.push_back("the remote is unreachable");
  if (queued > 0) warnings.push_back(N(queued) + " commits are not on the remote yet");
  if (!warnings.empty()) t.Add({"warning", Join(warnings, "; ")});
  t.Add({"repository", meta.repository()});
  if (url.empty()) {
    t.Add({"remote", "none (embedded)"});
  } else {
    t.Add({"remote", url + (remote_ok ? " (answers)"
                                      : " (unreachable: " + N(meta.fetch_failures()) + " of " +
                                            N(meta.fetches()) + " fetches failed)")});
  }
  const std::string& release = meta.channel_release();
  t.Add({"channel", (release.empty() ? "points at no release" : "release " + release) +
                        (meta.meta_commit().empty()
                             ? std::string()
                             : " (seen at meta commit " + meta.meta_commit().substr(0, 12) + ")")});
  if (meta.rewrites() > 0) {
    t.Add({"rewrites",
           N(meta.rewrites()) + " rewritten remote histories, last " + meta.last_rewrite()});
  }
  const double refused = meta.credential_failures() + meta.host_key_failures() +
                         meta.certificate_failures() + meta.timeouts();
  if (refused > 0) {
    t.Add({"remote failures", N(meta.credential_failures()) + " credentials, " +
                                  N(meta.host_key_failures()) + " host key, " +
                                  N(meta.certificate_failures()) + " certificate, " +
                                  N(meta.timeouts()) + " timeouts"});
  }
  t.Add({"commits",
         N(meta.commits()) + " made" +
             (url.empty() ? std::string()
                          : ", " + N(meta.pushes()) + " pushes, " + N(queued) + " queued")});
  t.Add({"records", N(meta.bad_records()) + " bad (skipped), " + N(meta.candidates_offered()) +
                        " releases offered, " + N(meta.artifact_failures()) +
                        " artifact failures"});
  if (!meta.last_error().empty()) t.Add({"last error", OneLine(meta.last_error())});
  return t.Render("  ");
}

}  // namespace

StatusOr<std::string> FormatStatus(std::string_view status_json) {
  StatusReport s;
  if (Status parsed = ParseJsonRecord("/status", status_json, &s); !parsed) {
    return Fail("the admin API's /status answer does not read: " + parsed.error().message());
  }

  std::string out =
      fmt::format("{}: yoke up {}\n", s.service(), HumanDuration(Seconds(s.uptime_s())));
  Table roles;
  roles.Add({"running", RoleLine(s.has_running(), s.running())});
  roles.Add({"testing", RoleLine(s.has_testing(), s.testing())});
  const JudgeStatus& judge = s.judge();
  if (!judge.promoting().empty()) {
    roles.Add({"promoting", judge.promoting() + ": its new running instance is starting"});
  }
  if (!judge.awaiting_person().empty()) {
    roles.Add({"waiting", judge.awaiting_person() +
                              ": passed every gate; a new major version waits for a person "
                              "(yoke promote --reason ...)"});
  }
  if (!s.pinned().empty()) {
    roles.Add(
        {"pinned",
         s.pinned() + (s.held().empty() ? "" : "; candidate " + s.held() + " waits for unpin")});
  }
  out += roles.Render();

  const EvidenceStatus& evidence = s.evidence();
  const PairCountsStatus& total = evidence.total();
  const std::string& candidate = evidence.candidate();
  // Pairs of a window that is over (its candidate was decided) are stale: not shown as live.
  const bool live = !s.has_judge() || !judge.verdict().empty();
  if (!live) {
    out +=
        "\nevidence\n  none: no candidate under test (a decided window's figures are in its "
        "decision)\n";
  } else {
    out += "\nevidence" + (candidate.empty() ? std::string() : " for " + candidate) + "\n";
    Table ev;
    // The pair count itself is the judge's line below (yoke proxy: here, having no judge).
    if (!s.has_judge()) ev.Add({"pairs", N(total.pairs())});
    ev.Add({"same status", N(total.same_status()) + " of the pairs"});
    ev.Add({"running", RunningCounts(total)});
    ev.Add({"testing", TestingCounts(total)});
    out += ev.Render("  ");
    // Routes where testing did worse than running, the ones an operator looks at first.
    const std::map<std::string, PairCountsStatus> routes(evidence.routes().begin(),
                                                         evidence.routes().end());
    Table worse;
    for (const auto& [route, c] : routes) {
      if (c.testing_5xx_running_not() == 0 && c.testing_4xx_running_ok() == 0) continue;
      if (worse.empty()) worse.Add({"route", "pairs", "testing 5xx", "testing 4xx"});
      worse.Add(
          {route, N(c.pairs()), N(c.testing_5xx_running_not()), N(c.testing_4xx_running_ok())});
    }
    if (!worse.empty())
      out += "  routes where testing answered worse than running\n" + worse.Render("    ");
  }

  out += "\njudge\n";
  if (!s.has_judge()) {
    out += "  not judging here (yoke proxy)\n";
  } else {
    Table j;
    j.Add({"reading", judge.verdict().empty() ? "no candidate" : judge.verdict()});
    if (!judge.reason().empty()) j.Add({"reason", OneLine(judge.reason())});
    if (!judge.verdict().empty()) {
      j.Add({"window", Progress(judge.window_s(), judge.min_window_s(), " s")});
      j.Add(PairsLines(judge));
      j.Add(StillNeedsLine(judge));
    }
    out += j.Render("  ");
    if (judge.gates_size() > 0) {
      Table g;
      g.Add({"gate", "outcome", "testing", "running", "margin", "z", "Holm p"});
      for (const GateReading& gate : judge.gates()) {
        const bool counted = gate.testing_total() > 0 || gate.running_total() > 0;
        g.Add({gate.name(), gate.outcome(),
               counted ? Fraction(static_cast<uint64_t>(gate.testing_count()),
                                  static_cast<uint64_t>(gate.testing_total()))
                       : "-",
               counted ? Fraction(static_cast<uint64_t>(gate.running_count()),
                                  static_cast<uint64_t>(gate.running_total()))
                       : "-",
               counted && gate.name() != "latency" ? Percent(gate.margin()) : "-",
               counted ? fmt::format("{:.2f}", gate.z()) : "-",
               counted ? fmt::format("{:.2g}", gate.adjusted_p()) : "-"});
      }
      out += "  gates\n" + g.Render("    ");
    }
  }

  if (s.has_proxy() || s.has_mirror()) {
    const ProxyStatus& proxy = s.proxy();
    const MirrorStatus& mirror = s.mirror();
    auto responses = proxy.responses().find("5xx");
    out += "\ntraffic\n";
    Table t;
    t.Add({"proxy", N(proxy.requests()) + " requests, 5xx " +
                        N(responses == proxy.responses().end() ? 0 : responses->second) +
                        ", upstream unreachable " + N(proxy.upstream_unreachable()) +
                        ", upstream timeouts " + N(proxy.upstream_timeouts()) + ", bad requests " +
                        N(proxy.bad_requests())});
    double dropped = 0;
    for (const auto& [reason, count] : mirror.dropped()) dropped += count;
    t.Add({"mirror", N(mirror.sent()) + " sent, " + N(mirror.in_flight()) + " in flight, " +
                         N(mirror.failed()) + " failed, " + N(dropped) + " dropped"});
    out += t.Render("  ");
  }

  if (s.has_meta()) {
    out += "\nmeta\n" + MetaLines(s.meta());
  } else if (s.has_judge()) {  // `yoke proxy` has no meta to speak of
    out += "\nmeta\n  off (meta { enabled: false })\n";
  }
  return out;
}

std::string FormatBaseView(const BaseView& view) {
  std::string out = "base " + view.base.string() + "\n";
  Table roles;
  for (const RoleOnDisk& r : view.roles) {
    if (r.instance_dir.empty()) {
      roles.Add({r.role, "none (no link)"});
      continue;
    }
    std::string line;
    if (r.record) {
      line = VersionOrNone(r.record->version()) + "  instance " + r.instance_dir + "  port " +
             std::to_string(r.record->port()) + "  pid " + std::to_string(r.record->pid()) + "  " +
             r.state;
    } else {
      line = r.instance_dir + "  (" + (r.problem.empty() ? "no instance.txtpb" : r.problem) + ")";
    }
    roles.Add({r.role, line});
  }
  out += roles.Render();
  if (view.journal) {
    const Journal& j = *view.journal;
    auto slot = [](const InstanceRecord& r) {
      if (r.version().empty()) return std::string("none");
      return r.number() > 0 ? r.version() + " (instance " + std::to_string(r.number()) + ")"
                            : r.version();
    };
    Table jt;
    jt.Add({"running", slot(j.running())});
    jt.Add({"testing", slot(j.testing())});
    if (!j.incoming().version().empty()) jt.Add({"promoting", slot(j.incoming())});
    if (j.stopping_size() > 0)
      jt.Add({"stopping", std::to_string(j.stopping_size()) + " instances"});
    if (!j.pinned().empty()) jt.Add({"pinned", j.pinned()});
    if (!j.held().empty()) jt.Add({"held", j.held()});
    out += "\njournal (what the next yoke run starts again)\n" + jt.Render("  ");
  } else {
    out += "\njournal: " + (view.journal_problem.empty() ? "none" : view.journal_problem) + "\n";
  }
  return out;
}

std::string FormatFleet(const FleetReport& report) {
  auto AsLower = [](std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  Table table;
  table.Add({"HOST", "SERVICE", "CHANNEL", "RUNNING", "TESTING", "JUDGE", "LAST DECISION", "SEEN",
             "STAGE"});
  for (const FleetMemberStatus& m : report.members()) {
    if (!m.problem().empty()) {
      table.Add({m.host(), m.service(), "-", "-", "-", "-", "-", "-", OneLine(m.problem())});
      continue;
    }
    std::string seen = m.seen().empty() ? "never" : HumanDuration(Seconds(m.seen_age_s())) + " ago";
    if (m.stale()) seen += " (stale)";
    table.Add(
        {m.host(), m.service(), m.channel().empty() ? "-" : m.channel(), VersionOrNone(m.running()),
         VersionOrNone(m.testing()), m.judge(),
         m.last_decision().empty() ? "-" : AsLower(m.last_verdict()) + " " + m.last_decision(),
         seen, m.stage().empty() ? "-" : m.stage()});
  }
  std::string out = fmt::format("{}/{} at {}: {} host-service(s)\n", report.project(), report.env(),
                                report.commit().substr(0, 12), report.members_size());
  out += table.Render();
  for (const FleetRolloutStatus& r : report.rollouts()) {
    out +=
        fmt::format("rollout {} {}: {}{}{}\n", r.channel(), r.release().empty() ? "-" : r.release(),
                    r.state(), r.stage().empty() ? "" : ", stage " + r.stage(),
                    r.detail().empty() ? "" : "; " + OneLine(r.detail()));
  }
  return out;
}

}  // namespace yoke
