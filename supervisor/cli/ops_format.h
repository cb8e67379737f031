// What the operator commands print (`yoke status`, `yoke decisions`, `yoke archive`), laid out
// for a human. Pure functions of values the commands have gathered: no files, no sockets, no
// clock, so tests call them directly. docs/operations.md shows their output.
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base-layout/archive.h"
#include "core/decision_listing.h"
#include "core/status.h"
#include "proto/yoke/records.pb.h"
#include "proto/yoke/state.pb.h"
#include "proto/yoke/status.pb.h"

namespace yoke {

std::string HumanBytes(uint64_t bytes);      // "512 B", "12.3 KiB", "1.0 GiB"
std::string HumanDuration(int64_t seconds);  // "35s", "4m 05s", "1h 02m", "3d 04h"
std::string UtcText(int64_t unix_ns);        // "2026-11-22T03:10:55Z"

// --- decisions ---

// The reason a decision is shown with on one line: for a rejection by the judge, the failing
// gates with their culprits ("gate lost_routes failed: /lost"); otherwise the recorded reason.
std::string DecisionMainReason(const Decision& decision);
// One line per decision, in the order given, columns aligned: id, time, verdict,
// from -> to, author, main reason; with `with_place`, "service on host" after the id (meta's
// log of every host). Records that do not parse are left out: the commands report them.
// `yoke fleet status`: one row per host × service, then each channel's rollout.
std::string FormatFleet(const FleetReport& report);

std::string FormatDecisionList(const std::vector<DecisionEntry>& entries, bool with_place = false);
// One decision in full: header lines, the gates as an aligned table, lost routes and new
// error kinds.
std::string FormatDecision(const DecisionEntry& entry);

// --- archives ---

struct ArchiveRow {
  std::string file;     // hello-1.0.0.zip
  std::string version;  // the version folder inside it
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // when it was written
};
// A header and one line per archive, in the order given: version, size, date, file.
std::string FormatArchiveList(const std::vector<ArchiveRow>& rows);

struct ArchiveContents {
  ArchiveRow row;
  std::filesystem::path path;
  std::vector<ArchiveEntry> entries;  // as ListZip gives them
  // Each instance folder's instance.txtpb, by folder name ("0001-running"), or why it did not
  // parse.
  std::map<std::string, InstanceRecord> records;
  std::map<std::string, std::string> record_problems;
  std::string properties_name;  // the config's properties file name, to label its copies
};
// What an archived version folder held, grouped: the artifact, then each instance folder with
// its instance.txtpb summary and its files (output, logs, properties copy, record, links).
std::string FormatArchiveShow(const ArchiveContents& contents);
// What `archive extract` wrote under `dir`, one line each.
std::string FormatExtracted(const std::vector<ArchiveEntry>& written,
                            const std::filesystem::path& dir);

// --- status ---

// The admin API's GET /status JSON as a human reads it: running and testing, the evidence
// window so far, the judge's reading against its minimums, proxy and mirror counters, and meta
// (repository or remote, the channel's release, commits and queue, a warning line when the
// remote is unreachable or commits are queued, the last error). The text is parsed as a
// StatusReport (proto/yoke/status.proto), ignoring keys it does not know; fails when it is not
// a JSON object or a known key holds the wrong type.
StatusOr<std::string> FormatStatus(std::string_view status_json);

// What the base folder says when no yoke answers.
struct RoleOnDisk {
  std::string role;                      // "running" or "testing"
  std::string instance_dir;              // the link's target folder name, empty: no link
  std::optional<InstanceRecord> record;  // its instance.txtpb
  std::string state;                     // "alive", "exit code 3", "stopped", "gone"
  std::string problem;                   // why the record could not be read
};
struct BaseView {
  std::filesystem::path base;
  std::vector<RoleOnDisk> roles;
  std::optional<Journal> journal;
  std::string journal_problem;  // unreadable journal, or empty
};
std::string FormatBaseView(const BaseView& view);

}  // namespace yoke
