#include "supervisor/admin/status_report.h"

#include <fmt/format.h>

#include <cassert>
#include <map>
#include <string_view>
#include <tuple>

#include "core/prometheus.h"
#include "core/record_text.h"
#include "core/utf8.h"

namespace yoke {
namespace {

constexpr const char* kJudgeStates[] = {"idle", "wait", "promote", "reject", "promoting"};

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

// Under `yoke proxy` a role is its upstream only.
void SetUpstream(const std::optional<Upstream>& upstream, RoleStatus* role) {
  role->set_host(upstream->host);
  role->set_port(upstream->port);
}

void SetDecisions(const DecisionListing& list, DecisionsStatus* out) {
  out->set_total(list.total);
  for (const DecisionEntry& d : list.entries) {
    DecisionSummaryStatus* entry = out->add_recent();
    entry->set_id(ValidUtf8(d.id));
    if (!d.problem.empty()) {
      entry->set_error(ValidUtf8(d.problem));
      continue;
    }
    const Decision& r = d.decision;
    entry->set_verdict(r.verdict());
    entry->set_from_version(ValidUtf8(r.from_version()));
    entry->set_to_version(ValidUtf8(r.to_version()));
    entry->set_time(ValidUtf8(r.time()));
    entry->set_reason(ValidUtf8(r.reason()));
    entry->set_author(ValidUtf8(r.author()));
  }
}

// The judge's state as one gauge per state (exactly one is 1), the window's age and pairs, and
// the limits they are read against, so an alert can say "stuck at max window".
void AddJudgeMetrics(const StatusReport& report, PrometheusText& out) {
  const JudgeStatus& judge = report.judge();
  std::string state = judge.verdict();
  if (!judge.promoting().empty()) {
    state = "promoting";
  } else if (state.empty()) {
    state = "idle";  // no candidate under judgement
  }
  for (const char* name : kJudgeStates) {
    out.Gauge("yoke_judge_state",
              "The judge's state: idle (no candidate), wait, promote, reject or promoting.",
              state == name ? 1 : 0, {{"state", name}});
  }
  const bool open = !judge.verdict().empty();
  out.Gauge("yoke_judge_window_seconds", "Age of the candidate's evidence window (0: none open).",
            open ? judge.window_s() : 0.0);
  out.Gauge("yoke_judge_window_pairs", "Pairs in the candidate's evidence window.",
            open ? judge.pairs() : 0.0);
  out.Gauge("yoke_judge_min_pairs", "Pairs the judge needs before it may promote.",
            judge.min_pairs());
  out.Gauge("yoke_judge_min_window_seconds", "Window age the judge needs before it may promote.",
            judge.min_window_s());
  out.Gauge(
      "yoke_judge_max_window_seconds",
      "Window age at which the judge rejects (or, with reject_at_max_window false, waits on).",
      judge.max_window_s());
}

void AddProcessMetrics(const ProcessMetrics& p, PrometheusText& out) {
  out.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              p.cpu_seconds);
  out.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", p.resident_bytes);
  out.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtual_bytes);
  out.Gauge("process_open_fds", "Number of open file descriptors.", p.open_fds);
  out.Gauge("process_max_fds", "Maximum number of open file descriptors.", p.max_fds);
  out.Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            p.start_time_seconds);
}

}  // namespace

StatusReport BuildStatusReport(const StatusInputs& in) {
  // Under `yoke run` the supervisor's part is the start: roles, judge, log evidence, each
  // route's gates, pinned, held, counters (Supervisor::Snapshot).
  StatusReport report = in.supervisor ? *in.supervisor : StatusReport();
  report.set_service(in.service);
  report.set_uptime_s(static_cast<double>(in.uptime.count()));
  if (!in.supervisor && in.upstreams.running) {
    SetUpstream(in.upstreams.running, report.mutable_running());
  }
  if (!in.supervisor && in.upstreams.testing) {
    SetUpstream(in.upstreams.testing, report.mutable_testing());
  }
  if (in.image) *report.mutable_image() = *in.image;

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
  // The routes are the window's; a route gate of the judge's last look for a route the window
  // no longer holds (it was reset since) is left out.
  auto& routes = *evidence->mutable_routes();
  std::map<std::string, PairCountsStatus> window_routes;
  for (const auto& [route, counts] : in.pairs.routes()) {
    PairCountsStatus& entry = window_routes[ValidUtf8(route)];
    if (auto judged = routes.find(ValidUtf8(route)); judged != routes.end()) entry = judged->second;
    SetCounts(counts, &entry);
  }
  routes.clear();
  routes.insert(window_routes.begin(), window_routes.end());
  if (in.meta) {
    MetaStatus* meta = report.mutable_meta();
    *meta = *in.meta;
    meta->set_repository(ValidUtf8(meta->repository()));
    meta->set_url(ValidUtf8(meta->url()));
    meta->set_channel_release(ValidUtf8(meta->channel_release()));
    meta->set_last_error(ValidUtf8(meta->last_error()));
  }
  if (in.supervisor) SetDecisions(in.decisions, report.mutable_decisions());
  return report;
}

std::string StatusJson(const StatusInputs& in) {
  StatusOr<std::string> json = PrintJsonRecord(BuildStatusReport(in));
  // Printing a message built here only fails on a broken invariant: every string is UTF-8.
  assert(json);
  return json ? *json + "\n" : "{}\n";
}

std::string SystemdStatusLine(const StatusReport& s) {
  std::string line;
  if (s.running().version().empty()) {
    line = "no running version";
  } else {
    line = "running " + s.running().version() + (s.running().up() ? " up" : " not up");
  }
  const JudgeStatus& judge = s.judge();
  if (!judge.promoting().empty()) {
    line += "; promoting " + judge.promoting();
  } else if (!s.testing().version().empty()) {
    line += "; testing " + s.testing().version();
    if (!judge.verdict().empty()) {
      line += fmt::format(": judge {}, {}/{} pairs, {}/{} s", judge.verdict(), judge.pairs(),
                          judge.min_pairs(), judge.window_s(), judge.min_window_s());
    } else {
      line += s.testing().up() ? " up" : " starting";
    }
  }
  if (!s.pinned().empty()) line += "; pinned " + s.pinned();
  return ValidUtf8(line);
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
    const SupervisorCounters& s = in.supervisor->supervisor();
    for (auto [name, help, value] :
         {std::tuple{"yoke_instances_started_total", "Instances started.", s.instances_started()},
          {"yoke_running_crashes_total", "Running instances that crashed.", s.running_crashes()},
          {"yoke_start_failures_total", "Instances that failed to start.", s.start_failures()},
          {"yoke_artifacts_taken_in_total", "Artifacts taken in.", s.artifacts_taken_in()},
          {"yoke_versions_archived_total", "Version folders archived.", s.versions_archived()},
          {"yoke_instance_output_rotations_total",
           "Instance stdout and stderr files rotated (output.max_bytes).", s.output_rotations()},
          {"yoke_health_check_failures_total",
           "Failed health checks of instances that were up (health.check_interval_ms).",
           s.health_check_failures()}}) {
      out.Counter(name, help, value);
    }
    const DiskStatus& disk = in.supervisor->disk();
    out.Gauge("yoke_base_free_bytes", "Free bytes on the base folder's file system.",
              disk.free_bytes());
    out.Gauge("yoke_base_size_bytes", "Size of the base folder's file system.", disk.total_bytes());
    out.Gauge("yoke_base_free_floor_bytes",
              "Free space below which the intake pauses (intake.min_free_bytes/percent).",
              disk.floor_bytes());
    out.Gauge("yoke_intake_paused_low_space",
              "Whether the intake waits for free space (below intake.min_free_bytes/percent).",
              disk.low() ? 1 : 0);
    const RoleStatus& running = in.supervisor->running();
    const RoleStatus& testing = in.supervisor->testing();
    // The version is only in yoke_version_info: a label that changes with every release would
    // start a new series for yoke_up at each one.
    for (auto [role, r] : {std::pair{"running", &running}, {"testing", &testing}}) {
      out.Gauge("yoke_up", "Whether a role has a healthy instance.", r->up() ? 1 : 0,
                {{"role", role}});
    }
    for (auto [role, r] : {std::pair{"running", &running}, {"testing", &testing}}) {
      if (r->version().empty()) continue;
      out.Gauge("yoke_version_info", "The version each role runs (value always 1).", 1,
                {{"role", role}, {"version", r->version()}});
    }
    for (const DecisionCount& d : s.decisions()) {
      out.Counter("yoke_decisions_total",
                  "Decisions taken since yoke started, by verdict and by whom (yoke or operator).",
                  d.count(), {{"verdict", d.verdict()}, {"by", d.by()}});
    }
    AddJudgeMetrics(*in.supervisor, out);
    for (auto [role, r] : {std::pair{"running", &running}, {"testing", &testing}}) {
      for (auto [kind, value] : {std::pair{"not_json", r->log_lines().not_json()},
                                 {"no_level", r->log_lines().no_level()}}) {
        out.Gauge("yoke_log_lines_unusable",
                  "Log lines of the current instance that the judge cannot use.", value,
                  {{"role", role}, {"kind", kind}});
      }
    }
  }
  if (in.meta) {
    const MetaStatus& m = *in.meta;
    out.Gauge("yoke_meta_queued", "Commits meta's remote does not have yet.", m.queued());
    // Only with a remote: an embedded meta has nothing to be up.
    if (!m.url().empty()) {
      out.Gauge("yoke_meta_remote_up", "Whether the last fetch from meta's remote worked.",
                m.remote_ok() ? 1 : 0);
    }
    for (auto [name, help, value] :
         {std::tuple{"yoke_meta_commits_total", "Commits made to meta.", m.commits()},
          {"yoke_meta_pushes_total", "Pushes to meta's remote that landed.", m.pushes()},
          {"yoke_meta_fetch_failures_total", "Fetches from meta's remote that failed.",
           m.fetch_failures()},
          {"yoke_meta_push_failures_total", "Pushes refused or failed.", m.push_failures()},
          {"yoke_meta_bad_records_total", "Meta records that did not parse.", m.bad_records()},
          {"yoke_meta_artifact_failures_total", "Release artifacts that failed their checks.",
           m.artifact_failures()},
          {"yoke_meta_rewrites_total", "Times meta's remote history was found rewritten.",
           m.rewrites()}}) {
      out.Counter(name, help, value);
    }
    for (auto [cause, value] : {std::pair{"credentials", m.credential_failures()},
                                {"host_key", m.host_key_failures()},
                                {"certificate", m.certificate_failures()},
                                {"timeout", m.timeouts()}}) {
      out.Counter("yoke_meta_remote_failures_total",
                  "Fetches and pushes that failed, by cause (credentials, host_key, "
                  "certificate, timeout).",
                  value, {{"cause", cause}});
    }
  }
  if (in.image) {
    out.Gauge("yoke_build_info", "The yoke binary serving this (value always 1).", 1,
              {{"version", in.image->yoke_version()}, {"githash", in.build_githash}});
  }
  if (in.process) AddProcessMetrics(*in.process, out);
  return out.Text();
}

}  // namespace yoke
