#include "supervisor/cli/ops_json.h"

#include <boost/json.hpp>

#include "core/record_text.h"
#include "core/utf8.h"

namespace yoke {
namespace {

namespace json = boost::json;

json::value DecisionValue(const DecisionEntry& entry) {
  json::object out{{"id", ValidUtf8(entry.id)}, {"path", ValidUtf8(entry.path)}};
  if (!entry.problem.empty()) {
    out["error"] = ValidUtf8(entry.problem);
    return out;
  }
  auto text = PrintJsonRecord(entry.decision);
  boost::system::error_code ec;
  json::value record = text ? json::parse(*text, ec) : json::value();
  if (!text || ec) {
    out["error"] = "cannot print the record as JSON";
  } else {
    out["decision"] = std::move(record);
  }
  return out;
}

json::array ArchivesValue(const std::vector<ArchiveRow>& rows) {
  json::array out;
  for (const ArchiveRow& r : rows) {
    out.push_back(json::object{{"version", ValidUtf8(r.version)},
                               {"file", ValidUtf8(r.file)},
                               {"size_bytes", r.size},
                               {"archived", UtcText(r.mtime_ns)}});
  }
  return out;
}

}  // namespace

std::string DecisionJson(const DecisionEntry& entry) {
  return json::serialize(DecisionValue(entry)) + "\n";
}

std::string DecisionListJson(const std::string& source, const DecisionListing& listing) {
  json::array decisions;
  for (const DecisionEntry& e : listing.entries) decisions.push_back(DecisionValue(e));
  json::object out{
      {"source", ValidUtf8(source)}, {"total", listing.total}, {"decisions", std::move(decisions)}};
  return json::serialize(out) + "\n";
}

std::string ArchiveListJson(const std::vector<ArchiveRow>& rows) {
  return json::serialize(json::object{{"archives", ArchivesValue(rows)}}) + "\n";
}

std::string VersionsJson(const std::string& base, const std::vector<VersionRow>& versions,
                         const std::vector<ArchiveRow>& archives) {
  json::array list;
  for (const VersionRow& v : versions) {
    json::array instances;
    for (const VersionInstanceRow& i : v.instances) {
      json::object instance{{"folder", ValidUtf8(i.folder)},
                            {"port", i.port},
                            {"pid", i.pid},
                            {"state", ValidUtf8(i.state)}};
      if (!i.error.empty()) instance["error"] = ValidUtf8(i.error);
      if (!i.role.empty()) instance["role"] = i.role;
      instances.push_back(std::move(instance));
    }
    json::object row{{"version", ValidUtf8(v.version)}, {"instances", std::move(instances)}};
    if (!v.artifact.empty()) row["artifact"] = ValidUtf8(v.artifact);
    list.push_back(std::move(row));
  }
  json::object out{{"base", ValidUtf8(base)},
                   {"versions", std::move(list)},
                   {"archives", ArchivesValue(archives)}};
  return json::serialize(out) + "\n";
}

}  // namespace yoke
