#include "supervisor/admin/status_report.h"

#include <cassert>
#include <string_view>
#include <tuple>

#include "core/prometheus.h"
#include "core/record_text.h"

namespace yoke {
namespace {

// Text from outside (request paths folded into routes, log lines, files, git's messages) may hold
// bytes that are not UTF-8, which a proto3 string may not: each such byte becomes U+FFFD, as a
// browser would show it.
std::string Utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = n > 0 && i + n <= text.size();
    for (size_t k = 1; valid && k < n; ++k) {
      valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (valid && n > 1) {  // no overlong forms, surrogates or code points past U+10FFFF
      static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};  // by length
      uint32_t cp = c & (0x7F >> n);
      for (size_t k = 1; k < n; ++k) {
        cp = cp << 6 | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      }
      valid = cp >= kSmallest[n] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (valid) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

void SetCounts(const PairCounts& c, PairCountsStatus* out) {
  out->set_pairs(c.pairs);
  out->set_testing_5xx_running_not(c.testing_5xx_running_not);
  out->set_testing_4xx_running_ok(c.testing_4xx_running_ok);
  out->set_testing_better(c.testing_better);
  out->set_testing_no_answer(c.testing_no_answer);
  out->set_running_errors(c.running_errors);
  out->set_testing_errors(c.testing_errors);
  out->set_running_4xx(c.running_4xx);
  out->set_testing_4xx(c.testing_4xx);
  out->set_same_status(c.same_status);
}

void SetRole(const std::optional<SupervisorSnapshot>& sup, bool running,
             const std::optional<Upstream>& upstream, StatusReport* report) {
  if (sup) {
    const auto& r = running ? sup->running : sup->testing;
    if (r.version.empty()) return;
    RoleStatus* role = running ? report->mutable_running() : report->mutable_testing();
    role->set_version(r.version);
    role->set_up(r.up);
    role->set_port(r.port);
    role->set_pid(r.pid);
    role->set_instance(r.instance);
    if (r.up) role->set_uptime_s(r.uptime_s);
    LogLinesStatus* lines = role->mutable_log_lines();
    lines->set_read(r.log_lines);
    lines->set_not_json(r.log_lines_not_json);
    lines->set_no_level(r.log_lines_no_level);
    return;
  }
  if (!upstream) return;
  RoleStatus* role = running ? report->mutable_running() : report->mutable_testing();
  role->set_host(upstream->host);
  role->set_port(upstream->port);
}

// One route gate of the judge's last look, with the figures of its test (docs/judge.md).
void SetRouteGate(const GateResult& g, RouteGateStatus* out) {
  out->set_outcome(std::string(GateOutcomeName(g.outcome)));
  out->set_testing_count(g.testing_count);
  out->set_testing_total(g.testing_total);
  out->set_running_count(g.running_count);
  out->set_running_total(g.running_total);
  out->set_testing_rate(g.testing_rate);
  out->set_running_rate(g.running_rate);
  out->set_margin(g.margin);
  out->set_z(g.z);
  out->set_p_value(g.p_value);
  out->set_adjusted_p(g.adjusted_p);
  out->set_detail(Utf8(g.detail));
}

void SetSideLogs(const SupervisorSnapshot::SideLogs& logs, SideLogs* out) {
  out->set_errors(logs.errors);
  out->set_warnings(logs.warnings);
  out->set_requests(logs.requests);
}

void SetDecisions(const DecisionList& list, DecisionsStatus* out) {
  out->set_total(list.total);
  for (const DecisionSummary& d : list.recent) {
    DecisionSummaryStatus* entry = out->add_recent();
    entry->set_id(Utf8(d.id));
    if (!d.error.empty()) {
      entry->set_error(Utf8(d.error));
      continue;
    }
    const Decision& r = d.record;
    entry->set_verdict(r.verdict());
    entry->set_from_version(Utf8(r.from_version()));
    entry->set_to_version(Utf8(r.to_version()));
    entry->set_time(Utf8(r.time()));
    entry->set_reason(Utf8(r.reason()));
    entry->set_author(Utf8(r.author()));
  }
}

}  // namespace

StatusReport BuildStatusReport(const StatusInputs& in) {
  StatusReport report;
  report.set_service(in.service);
  report.set_uptime_s(static_cast<double>(in.uptime.count()));
  if (in.image) *report.mutable_image() = *in.image;
  SetRole(in.supervisor, true, in.upstreams.running, &report);
  SetRole(in.supervisor, false, in.upstreams.testing, &report);

  const auto& p = in.proxy;
  ProxyStatus* proxy = report.mutable_proxy();
  proxy->set_requests(p.requests);
  proxy->set_connections_open(p.connections_open);
  for (int cls = 1; cls <= 5; ++cls) {
    (*proxy->mutable_responses())[std::to_string(cls) + "xx"] = p.responses_by_class[cls];
  }
  proxy->set_upstream_unreachable(p.upstream_unreachable);
  proxy->set_upstream_timeouts(p.upstream_timeouts);
  proxy->set_bad_requests(p.bad_requests);
  proxy->set_client_timeouts(p.client_timeouts);

  MirrorStatus* mirror = report.mutable_mirror();
  mirror->set_sent(p.mirror_sent);
  mirror->set_in_flight(p.mirror_in_flight);
  mirror->set_failed(p.mirror_failed);
  for (MirrorDrop reason : kAllMirrorDrops) {
    (*mirror->mutable_dropped())[std::string(MirrorDropName(reason))] =
        p.mirror_dropped[static_cast<size_t>(reason)];
  }

  EvidenceStatus* evidence = report.mutable_evidence();
  evidence->set_candidate(in.candidate);
  SetCounts(in.pairs.total(), evidence->mutable_total());
  auto& routes = *evidence->mutable_routes();
  for (const auto& [route, counts] : in.pairs.routes()) SetCounts(counts, &routes[Utf8(route)]);
  if (in.meta) {
    const auto& m = *in.meta;
    MetaStatus* meta = report.mutable_meta();
    meta->set_repository(Utf8(m.repository));
    meta->set_url(Utf8(m.url));
    meta->set_channel_release(Utf8(m.channel_release));
    meta->set_queued(m.queued);
    meta->set_remote_ok(m.remote_ok);
    meta->set_commits(m.commits);
    meta->set_pushes(m.pushes);
    meta->set_fetches(m.fetches);
    meta->set_fetch_failures(m.fetch_failures);
    meta->set_push_failures(m.push_failures);
    meta->set_bad_records(m.bad_records);
    meta->set_candidates_offered(m.candidates_offered);
    meta->set_artifact_failures(m.artifact_failures);
    meta->set_last_error(Utf8(m.last_error));
  }
  if (!in.supervisor) return report;

  const auto& s = *in.supervisor;
  // Each route's own gates at the judge's last look: "judge_5xx", "judge_log_errors". A gate
  // status.proto has no field for is left out.
  for (const GateResult& g : s.judge_route_gates) {
    auto it = routes.find(Utf8(g.route));
    if (it == routes.end()) continue;
    if (g.name == "5xx") SetRouteGate(g, it->second.mutable_judge_5xx());
    if (g.name == "log_errors") SetRouteGate(g, it->second.mutable_judge_log_errors());
  }
  JudgeStatus* judge = report.mutable_judge();
  judge->set_verdict(s.judge_verdict);
  judge->set_reason(Utf8(s.judge_reason));
  judge->set_window_s(s.window_s);
  judge->set_min_window_s(s.min_window_s);
  judge->set_pairs(s.window_pairs);
  judge->set_min_pairs(s.min_pairs);
  judge->set_promoting(s.promoting);
  for (const auto& g : s.judge_gates) {
    GateReading* gate = judge->add_gates();
    gate->set_name(g.name);
    gate->set_outcome(g.outcome);
    gate->set_detail(Utf8(g.detail));
  }
  EvidenceLogs* logs = evidence->mutable_logs();
  SetSideLogs(s.running_logs, logs->mutable_running());
  SetSideLogs(s.testing_logs, logs->mutable_testing());
  for (const auto& [kind, count] : s.new_error_kinds) {  // most frequent first
    ErrorKindCount* k = logs->add_new_error_kinds();
    k->set_kind(Utf8(kind));
    k->set_count(count);
  }
  SetDecisions(in.decisions, report.mutable_decisions());
  report.set_pinned(s.pinned);
  report.set_held(s.held);
  SupervisorCounters* counters = report.mutable_supervisor();
  counters->set_instances_started(s.instances_started);
  counters->set_running_crashes(s.running_crashes);
  counters->set_start_failures(s.start_failures);
  counters->set_artifacts_taken_in(s.artifacts_taken_in);
  counters->set_versions_archived(s.versions_archived);

  return report;
}

std::string StatusJson(const StatusInputs& in) {
  StatusOr<std::string> json = PrintJsonRecord(BuildStatusReport(in));
  // Printing a message built here only fails on a broken invariant: every string is UTF-8.
  assert(json);
  return json ? *json + "\n" : "{}\n";
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
