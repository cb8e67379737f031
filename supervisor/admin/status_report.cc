#include "supervisor/admin/status_report.h"

#include <boost/json.hpp>
#include <tuple>

#include "core/prometheus.h"

namespace yoke {
namespace {

namespace json = boost::json;

json::object Counts(const PairCounts& c) {
  return json::object{{"pairs", c.pairs},
                      {"testing_5xx_running_not", c.testing_5xx_running_not},
                      {"testing_4xx_running_ok", c.testing_4xx_running_ok},
                      {"testing_better", c.testing_better},
                      {"testing_no_answer", c.testing_no_answer},
                      {"running_errors", c.running_errors},
                      {"testing_errors", c.testing_errors},
                      {"running_4xx", c.running_4xx},
                      {"testing_4xx", c.testing_4xx},
                      {"same_status", c.same_status}};
}

json::value Role(const std::optional<SupervisorSnapshot>& sup, bool running,
                 const std::optional<Upstream>& upstream) {
  json::object role;
  if (sup) {
    const auto& r = running ? sup->running : sup->testing;
    if (r.version.empty()) return nullptr;
    role = {{"version", r.version},
            {"up", r.up},
            {"port", r.port},
            {"pid", r.pid},
            {"instance", r.instance}};
    if (r.up) role["uptime_s"] = r.uptime_s;
    role["log_lines"] = {{"read", r.log_lines},
                         {"not_json", r.log_lines_not_json},
                         {"no_level", r.log_lines_no_level}};
    return role;
  }
  if (!upstream) return nullptr;
  return json::object{{"host", upstream->host}, {"port", upstream->port}};
}

// One route gate of the judge's last look, with the figures of its test (docs/judge.md).
json::object RouteGate(const GateResult& g) {
  return json::object{{"outcome", std::string(GateOutcomeName(g.outcome))},
                      {"testing_count", g.testing_count},
                      {"testing_total", g.testing_total},
                      {"running_count", g.running_count},
                      {"running_total", g.running_total},
                      {"testing_rate", g.testing_rate},
                      {"running_rate", g.running_rate},
                      {"margin", g.margin},
                      {"z", g.z},
                      {"p_value", g.p_value},
                      {"adjusted_p", g.adjusted_p},
                      {"detail", g.detail}};
}

json::object SideLogs(const SupervisorSnapshot::SideLogs& logs) {
  return json::object{
      {"errors", logs.errors}, {"warnings", logs.warnings}, {"requests", logs.requests}};
}

json::object Decisions(const DecisionList& list) {
  json::array recent;
  for (const DecisionSummary& d : list.recent) {
    json::object entry{{"id", d.id}};
    if (!d.error.empty()) {
      entry["error"] = d.error;
    } else {
      const Decision& r = d.record;
      entry["verdict"] = Verdict_Name(r.verdict());
      entry["from_version"] = r.from_version();
      entry["to_version"] = r.to_version();
      entry["time"] = r.time();
      entry["reason"] = r.reason();
      entry["author"] = r.author();
    }
    recent.push_back(std::move(entry));
  }
  return json::object{{"total", list.total}, {"recent", std::move(recent)}};
}

}  // namespace

std::string StatusJson(const StatusInputs& in) {
  const auto& p = in.proxy;
  json::object mirror_dropped;
  for (MirrorDrop reason : kAllMirrorDrops) {
    mirror_dropped[std::string(MirrorDropName(reason))] =
        p.mirror_dropped[static_cast<size_t>(reason)];
  }
  json::object routes;
  for (const auto& [route, counts] : in.pairs.routes()) routes[route] = Counts(counts);
  if (in.supervisor) {
    // Each route's own gates at the judge's last look: "judge_5xx", "judge_log_errors".
    for (const GateResult& g : in.supervisor->judge_route_gates) {
      auto it = routes.find(g.route);
      if (it != routes.end()) it->value().as_object()["judge_" + g.name] = RouteGate(g);
    }
  }
  json::object root{
      {"service", in.service},
      {"uptime_s", in.uptime.count()},
      {"running", Role(in.supervisor, true, in.upstreams.running)},
      {"testing", Role(in.supervisor, false, in.upstreams.testing)},
      {"proxy",
       {{"requests", p.requests},
        {"connections_open", p.connections_open},
        {"responses",
         {{"1xx", p.responses_by_class[1]},
          {"2xx", p.responses_by_class[2]},
          {"3xx", p.responses_by_class[3]},
          {"4xx", p.responses_by_class[4]},
          {"5xx", p.responses_by_class[5]}}},
        {"upstream_unreachable", p.upstream_unreachable},
        {"upstream_timeouts", p.upstream_timeouts},
        {"bad_requests", p.bad_requests},
        {"client_timeouts", p.client_timeouts}}},
      {"mirror",
       {{"sent", p.mirror_sent},
        {"in_flight", p.mirror_in_flight},
        {"failed", p.mirror_failed},
        {"dropped", mirror_dropped}}},
      {"evidence",
       {{"candidate", in.candidate}, {"total", Counts(in.pairs.total())}, {"routes", routes}}},
  };
  if (in.supervisor) {
    const auto& s = *in.supervisor;
    json::array gates;
    for (const auto& g : s.judge_gates) {
      gates.push_back({{"name", g.name}, {"outcome", g.outcome}, {"detail", g.detail}});
    }
    root["judge"] = {{"verdict", s.judge_verdict}, {"reason", s.judge_reason},
                     {"window_s", s.window_s},     {"min_window_s", s.min_window_s},
                     {"pairs", s.window_pairs},    {"min_pairs", s.min_pairs},
                     {"promoting", s.promoting},   {"gates", std::move(gates)}};
    json::array new_kinds;  // most frequent first
    for (const auto& [kind, count] : s.new_error_kinds) {
      new_kinds.push_back({{"kind", kind}, {"count", count}});
    }
    root["evidence"].as_object()["logs"] = {{"running", SideLogs(s.running_logs)},
                                            {"testing", SideLogs(s.testing_logs)},
                                            {"new_error_kinds", std::move(new_kinds)}};
    root["decisions"] = Decisions(in.decisions);
    root["pinned"] = s.pinned;
    root["held"] = s.held;
    root["supervisor"] = {{"instances_started", s.instances_started},
                          {"running_crashes", s.running_crashes},
                          {"start_failures", s.start_failures},
                          {"artifacts_taken_in", s.artifacts_taken_in},
                          {"versions_archived", s.versions_archived}};
  }
  if (in.meta) {
    const auto& m = *in.meta;
    root["meta"] = {{"repository", m.repository},
                    {"url", m.url},
                    {"channel_release", m.channel_release},
                    {"queued", m.queued},
                    {"remote_ok", m.remote_ok},
                    {"commits", m.commits},
                    {"pushes", m.pushes},
                    {"fetches", m.fetches},
                    {"fetch_failures", m.fetch_failures},
                    {"push_failures", m.push_failures},
                    {"bad_records", m.bad_records},
                    {"candidates_offered", m.candidates_offered},
                    {"artifact_failures", m.artifact_failures},
                    {"last_error", m.last_error}};
  }
  return json::serialize(root) + "\n";
}

std::string MetricsText(const StatusInputs& in) {
  PrometheusText out;
  proxy::AddPrometheus(in.proxy, out);
  const PairCounts& t = in.pairs.total();
  for (auto [kind, value] : {std::pair{"all", t.pairs},
                             {"testing_5xx_running_not", t.testing_5xx_running_not},
                             {"testing_4xx_running_ok", t.testing_4xx_running_ok},
                             {"testing_better", t.testing_better},
                             {"testing_no_answer", t.testing_no_answer}}) {
    out.Gauge("yoke_evidence_pairs", "Pairs in the current evidence window, by kind.", value,
              {{"kind", kind}});
  }
  if (in.supervisor) {
    const auto& s = *in.supervisor;
    for (auto [name, help, value] :
         {std::tuple{"yoke_instances_started_total", "Instances started.", s.instances_started},
          {"yoke_running_crashes_total", "Running instances that crashed.", s.running_crashes},
          {"yoke_start_failures_total", "Instances that failed to start.", s.start_failures},
          {"yoke_artifacts_taken_in_total", "Artifacts taken in.", s.artifacts_taken_in},
          {"yoke_versions_archived_total", "Version folders archived.", s.versions_archived}}) {
      out.Counter(name, help, value);
    }
    for (auto [role, r] : {std::pair{"running", &s.running}, {"testing", &s.testing}}) {
      out.Gauge("yoke_up", "Whether a role has a healthy instance.", r->up ? 1 : 0,
                {{"role", role}, {"version", r->version}});
    }
    for (auto [role, r] : {std::pair{"running", &s.running}, {"testing", &s.testing}}) {
      for (auto [kind, value] :
           {std::pair{"not_json", r->log_lines_not_json}, {"no_level", r->log_lines_no_level}}) {
        out.Gauge("yoke_log_lines_unusable",
                  "Log lines of the current instance that the judge cannot use.", value,
                  {{"role", role}, {"kind", kind}});
      }
    }
  }
  if (in.meta) {
    const auto& m = *in.meta;
    out.Gauge("yoke_meta_queued", "Commits meta's remote does not have yet.", m.queued);
    out.Gauge("yoke_meta_remote_up", "Whether the last fetch from meta's remote worked.",
              m.remote_ok ? 1 : 0);
    for (auto [name, help, value] :
         {std::tuple{"yoke_meta_commits_total", "Commits made to meta.", m.commits},
          {"yoke_meta_pushes_total", "Pushes to meta's remote that landed.", m.pushes},
          {"yoke_meta_fetch_failures_total", "Fetches from meta's remote that failed.",
           m.fetch_failures},
          {"yoke_meta_push_failures_total", "Pushes refused or failed.", m.push_failures},
          {"yoke_meta_bad_records_total", "Meta records that did not parse.", m.bad_records},
          {"yoke_meta_artifact_failures_total", "Release artifacts that failed their checks.",
           m.artifact_failures}}) {
      out.Counter(name, help, value);
    }
  }
  return out.Text();
}

}  // namespace yoke
