#include "core/judge.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>

#include "core/version.h"

namespace yoke {
namespace {

std::string Number(double value) {
  std::ostringstream out;
  out.precision(3);
  out << value;
  return out.str();
}

std::string PValue(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", p);
  return buf;
}

// The figures of one rate comparison, before any outcome: rates, margin, z and the one-sided
// p-value of "testing is worse by more than the margin". `poisson` treats counts as events per
// request (a request may log several errors); otherwise each of the n is a yes/no trial.
GateResult Figures(std::string name, std::string route, uint64_t x_t, uint64_t n_t, uint64_t x_r,
                   uint64_t n_r, Margin margin, bool poisson) {
  GateResult g;
  g.name = std::move(name);
  g.route = std::move(route);
  g.testing_count = x_t;
  g.testing_total = n_t;
  g.running_count = x_r;
  g.running_total = n_r;
  g.testing_rate = n_t ? static_cast<double>(x_t) / n_t : 0;
  g.running_rate = n_r ? static_cast<double>(x_r) / n_r : 0;
  g.margin = margin.For(g.running_rate);
  if (n_t == 0 || n_r == 0) return g;
  // Agresti-Caffo: one success and one failure added to each side, so that zero counts still
  // give an honest (non-zero) spread. For event rates, half an event (Poisson).
  const double add = poisson ? 0.5 : 1.0;
  const double pt = (x_t + add) / (n_t + 2 * add);
  const double pr = (x_r + add) / (n_r + 2 * add);
  const double var_t = poisson ? pt / (n_t + 2 * add) : pt * (1 - pt) / (n_t + 2 * add);
  const double var_r = poisson ? pr / (n_r + 2 * add) : pr * (1 - pr) / (n_r + 2 * add);
  const double se = std::sqrt(var_t + var_r);
  g.z = (pt - pr - g.margin) / se;
  g.p_value = NormalUpperTail(g.z);
  g.adjusted_p = g.p_value;
  return g;
}

// "testing 2.0% (66/3,300) vs running 0.0% (0/3,300), margin 0.10%".
std::string FiguresText(const GateResult& g) {
  return "testing " + FormatRate(g.testing_rate) + " (" + FormatCount(g.testing_count) + "/" +
         FormatCount(g.testing_total) + ") vs running " + FormatRate(g.running_rate) + " (" +
         FormatCount(g.running_count) + "/" + FormatCount(g.running_total) + "), margin " +
         FormatRate(g.margin);
}

// Sets the outcome of a test whose adjusted p-value is known; returns the detail without its
// "worse: " / "not worse: " / "undecided: " prefix (decision reasons quote it after a name).
std::string Decide(GateResult& g, double confidence, uint64_t events, uint64_t min_events) {
  const double alpha = 1 - confidence;
  const double z_alpha = ZForConfidence(confidence);
  if (g.testing_total == 0 || g.running_total == 0) {
    g.outcome = GateOutcome::kWait;
    g.detail = "no traffic yet";
    return g.detail;
  }
  std::string body = FiguresText(g) + ", z " + Number(g.z);
  if (g.adjusted_p <= alpha && events >= min_events) {
    g.outcome = GateOutcome::kFail;
    body += ", p " + PValue(g.p_value) + ", Holm " + PValue(g.adjusted_p) + " <= " + Number(alpha);
    g.detail = "worse: " + body;
  } else if (g.z < -z_alpha) {
    g.outcome = GateOutcome::kPass;
    body += " < -" + Number(z_alpha);
    g.detail = "not worse: " + body;
  } else {
    g.outcome = GateOutcome::kWait;
    body += ", Holm p " + PValue(g.adjusted_p);
    g.detail = "undecided: " + body;
  }
  return body;
}

GateResult Named(std::string name, GateOutcome outcome) {
  GateResult g;
  g.name = std::move(name);
  g.outcome = outcome;
  return g;
}

std::string RouteGateName(const GateResult& g) { return g.name + " on " + g.route; }

// "a, b, c and 4 more": lists in reasons stay short with many routes.
std::string ShortList(const std::vector<std::string>& items, size_t max = 5) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > max) out += " and " + std::to_string(items.size() - max) + " more";
  return out;
}

// One test of the window's family, with the guard it needs before it may fail.
struct FamilyMember {
  GateResult* gate;
  uint64_t events;      // bad events the guard counts
  uint64_t min_events;  // ...and how many it needs
};

// The aggregate gate over one kind of per-route gate. Like lost_routes it fails when a route
// fails and never waits: an undecided route does not hold a promotion (docs/judge.md says why).
GateResult RoutesGate(std::string name, const std::vector<GateResult>& route_gates,
                      const std::string& kind, uint64_t route_min_pairs) {
  GateResult agg = Named(std::move(name), GateOutcome::kPass);
  std::vector<std::string> worse;
  size_t judged = 0, passed = 0, undecided = 0, small = 0;
  for (const GateResult& r : route_gates) {
    if (r.name != kind) continue;
    if (r.outcome == GateOutcome::kNotJudged) {
      ++small;
      continue;
    }
    ++judged;
    if (r.outcome == GateOutcome::kFail) worse.push_back(r.route);
    if (r.outcome == GateOutcome::kPass) ++passed;
    if (r.outcome == GateOutcome::kWait) ++undecided;
  }
  agg.testing_count = worse.size();
  agg.testing_total = judged;
  agg.culprits = worse;
  agg.detail = std::to_string(judged) + " routes judged: " + std::to_string(passed) +
               " not worse, " + std::to_string(undecided) + " undecided";
  if (!worse.empty()) {
    agg.outcome = GateOutcome::kFail;
    agg.detail += ", " + std::to_string(worse.size()) + " worse (" + ShortList(worse) + ")";
  }
  agg.detail += "; " + std::to_string(small) + " below " + std::to_string(route_min_pairs) +
                " pairs, reported, not judged";
  return agg;
}

std::string Ms(double ms) { return Number(ms) + " ms"; }

// The latency test of one route (or overall, route empty): quantiles always, the rank test's
// figures; the outcome is set by DecideLatency once the family's correction is known.
GateResult LatencyFigures(std::string route, const PairCounts& c, double effect) {
  GateResult g;
  g.name = "latency";
  g.route = std::move(route);
  const LatencyHistogram& t = c.testing_latency;
  const LatencyHistogram& r = c.running_latency;
  g.testing_p50_ms = t.QuantileMs(0.5);
  g.testing_p95_ms = t.QuantileMs(0.95);
  g.testing_p99_ms = t.QuantileMs(0.99);
  g.running_p50_ms = r.QuantileMs(0.5);
  g.running_p95_ms = r.QuantileMs(0.95);
  g.running_p99_ms = r.QuantileMs(0.99);
  RankTest rank = MannWhitney(t, r, effect);
  g.testing_total = rank.testing_n;
  g.running_total = rank.running_n;
  g.slower_share = rank.slower_share;
  g.margin = effect;
  g.z = rank.z;
  g.p_value = rank.p_value;
  g.adjusted_p = rank.p_value;
  // For the latency gates the rates are mean milliseconds (as before issue 18).
  const uint64_t answered = c.pairs - c.testing_no_answer;
  g.testing_rate = answered ? static_cast<double>(c.testing_latency_us_sum) / answered / 1000 : 0;
  g.running_rate = c.pairs ? static_cast<double>(c.running_latency_us_sum) / c.pairs / 1000 : 0;
  return g;
}

// "p50 1.2/1.1 ms, p95 ..., p99 ... (testing/running), testing slower in 52% of pairs".
std::string LatencyText(const GateResult& g) {
  return "p50 " + Number(g.testing_p50_ms) + "/" + Ms(g.running_p50_ms) + ", p95 " +
         Number(g.testing_p95_ms) + "/" + Ms(g.running_p95_ms) + ", p99 " +
         Number(g.testing_p99_ms) + "/" + Ms(g.running_p99_ms) +
         " (testing/running), testing slower in " + FormatRate(g.slower_share) + " of pairs";
}

void DecideLatency(GateResult& g, double confidence, bool gate, uint64_t min_pairs) {
  const double alpha = 1 - confidence;
  std::string text = LatencyText(g);
  if (!gate) {
    g.outcome = GateOutcome::kPass;
    g.detail = text + " (reported, not a gate)";
    return;
  }
  text += ", margin " + FormatRate(g.margin) + ", z " + Number(g.z);
  if (g.testing_total == 0 || g.running_total == 0) {
    g.outcome = GateOutcome::kWait;
    g.detail = "no traffic yet";
  } else if (g.adjusted_p <= alpha && g.testing_total >= min_pairs) {
    g.outcome = GateOutcome::kFail;
    g.detail = "slower: " + text + ", p " + PValue(g.p_value) + ", Holm " + PValue(g.adjusted_p) +
               " <= " + Number(alpha);
  } else if (g.z < -ZForConfidence(confidence)) {
    g.outcome = GateOutcome::kPass;
    g.detail = "not slower: " + text;
  } else {
    g.outcome = GateOutcome::kWait;
    g.detail = "undecided: " + text + ", Holm p " + PValue(g.adjusted_p);
  }
}

}  // namespace

std::string FormatRate(double rate) {
  const double percent = rate * 100;
  char buf[32];
  const int digits = percent == 0 || percent >= 1 ? 1 : percent >= 0.1 ? 2 : 3;
  std::snprintf(buf, sizeof buf, "%.*f%%", digits, percent);
  return buf;
}

std::string FormatCount(uint64_t count) {
  std::string digits = std::to_string(count);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string_view GateOutcomeName(GateOutcome outcome) {
  switch (outcome) {
    case GateOutcome::kPass:
      return "pass";
    case GateOutcome::kFail:
      return "fail";
    case GateOutcome::kWait:
      return "wait";
    case GateOutcome::kNotJudged:
      return "not judged";
  }
  return "wait";
}

double NormalUpperTail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

std::vector<double> HolmAdjusted(const std::vector<double>& p_values) {
  const size_t m = p_values.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> adjusted(m, 1.0);
  double step_max = 0;
  for (size_t k = 0; k < m; ++k) {
    const double v = std::min(1.0, static_cast<double>(m - k) * p_values[order[k]]);
    step_max = std::max(step_max, v);  // step-down: never smaller than an earlier step
    adjusted[order[k]] = step_max;
  }
  return adjusted;
}

uint64_t PairsToShowClean(double margin_floor, double confidence, bool poisson) {
  const double z_alpha = ZForConfidence(confidence);
  auto shows = [&](uint64_t n) {
    return Figures("", "", 0, n, 0, n, Margin{0, margin_floor}, poisson).z < -z_alpha;
  };
  uint64_t high = 1;
  while (!shows(high)) {
    if (high > (uint64_t{1} << 40)) return std::numeric_limits<uint64_t>::max();
    high *= 2;
  }
  uint64_t low = high / 2;  // !shows(low) unless high == 1
  if (high == 1) return 1;
  while (high - low > 1) {
    const uint64_t mid = low + (high - low) / 2;
    (shows(mid) ? high : low) = mid;
  }
  return high;
}

double ZForConfidence(double p) {
  // Acklam's rational approximation of the normal quantile (relative error < 1.2e-9).
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  p = std::clamp(p, 1e-12, 1 - 1e-12);
  const double low = 0.02425;
  if (p < low) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) {
    double q = std::sqrt(-2 * std::log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

GateResult CompareRates(std::string name, uint64_t x_t, uint64_t n_t, uint64_t x_r, uint64_t n_r,
                        Margin margin, double confidence, uint64_t min_events) {
  GateResult g = Figures(std::move(name), "", x_t, n_t, x_r, n_r, margin, /*poisson=*/false);
  Decide(g, confidence, x_t, min_events);
  return g;
}

Judgement Judge(const JudgeSettings& s, const Evidence& e) {
  Judgement j;
  const PairCounts& p = e.pairs.total();

  // Every rate test of the window first, figures only: the outcomes wait for the correction.
  // Status codes, on the pairs: testing and running answered the same requests.
  GateResult g5xx =
      Figures("5xx", "", p.testing_errors, p.pairs, p.running_errors, p.pairs, s.margin_5xx, false);
  GateResult g4xx =
      Figures("4xx", "", p.testing_4xx, p.pairs, p.running_4xx, p.pairs, s.margin_4xx, false);
  // JSON logs, per request served. Testing's startup errors count against it.
  GateResult glog = Figures("log_errors", "", e.testing_logs.errors + e.testing_logs.startup_errors,
                            e.testing_requests, e.running_logs.errors, e.running_requests,
                            s.margin_log_errors, true);
  GateResult gwarn = Figures(
      "log_warnings", "", e.testing_logs.warnings + e.testing_logs.startup_warnings,
      e.testing_requests, e.running_logs.warnings, e.running_requests, s.margin_log_warnings, true);

  // Per route. The 4xx test of every route (lost_routes, as before); the 5xx test, and the log
  // error test when log lines name their route, of every route; a route is judged on them once
  // it has route_min_pairs pairs.
  const bool routed_logs = e.running_logs.routed_errors + e.testing_logs.routed_errors > 0;
  auto count_of = [](const std::map<std::string, uint64_t>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? uint64_t{0} : it->second;
  };
  std::vector<GateResult> lost_tests;
  lost_tests.reserve(e.pairs.routes().size());
  std::vector<GateResult> route_5xx, route_log;
  for (const auto& [route, c] : e.pairs.routes()) {
    lost_tests.push_back(
        Figures("4xx", route, c.testing_4xx, c.pairs, c.running_4xx, c.pairs, s.margin_4xx, false));
    route_5xx.push_back(Figures("5xx", route, c.testing_errors, c.pairs, c.running_errors, c.pairs,
                                s.margin_5xx, false));
    if (routed_logs) {
      // Running's errors on a route come from every request it served there; only the pairs
      // are known per route, so both sides are taken per pair (docs/judge.md: this errs toward
      // testing wherever some requests on the route were not mirrored).
      route_log.push_back(Figures("log_errors", route, count_of(e.testing_logs.route_errors, route),
                                  c.pairs, count_of(e.running_logs.route_errors, route), c.pairs,
                                  s.margin_log_errors, true));
    }
  }

  // Drift: testing against what the last promoted versions showed while they were judged.
  const bool have_baseline = !e.baseline.versions.empty();
  GateResult g5xx_drift = Figures("5xx_drift", "", p.testing_errors, p.pairs, e.baseline.errors_5xx,
                                  e.baseline.pairs, s.margin_5xx, false);
  GateResult glog_drift = Figures(
      "log_errors_drift", "", e.testing_logs.errors + e.testing_logs.startup_errors,
      e.testing_requests, e.baseline.log_errors, e.baseline.requests, s.margin_log_errors, true);

  // Latency distributions, overall and per route: reported always, tested when configured.
  const bool latency_gate = s.latency_max_effect > 0;
  GateResult glatency = LatencyFigures("", p, s.latency_max_effect);
  std::vector<GateResult> route_latency;
  for (const auto& [route, c] : e.pairs.routes()) {
    route_latency.push_back(LatencyFigures(route, c, s.latency_max_effect));
  }

  // Bodies: per route and path, running/testing differences against running/running ones.
  struct BodyTest {
    GateResult gate;
    const PathDiffCounts* counts;
  };
  std::vector<BodyTest> body_tests;
  for (const auto& [route, r] : e.bodies.routes()) {
    if (r.samples < s.body_diff_min_samples) continue;
    for (const auto& [path, c] : r.paths) {
      if (c.testing == 0) continue;
      GateResult g = Figures("body_diff", route, c.testing, r.samples, c.running, r.samples,
                             s.margin_body_diff, false);
      g.culprits = {path};
      body_tests.push_back({std::move(g), &c});
    }
  }

  // The family: every test that could reject. Holm-Bonferroni keeps the chance that any of them
  // fails between identical versions at most 1 - confidence.
  std::vector<FamilyMember> family;
  auto join = [&](GateResult& g, uint64_t events, uint64_t min_events) {
    if (g.testing_total > 0 && g.running_total > 0) family.push_back({&g, events, min_events});
  };
  join(g5xx, g5xx.testing_count, s.min_events);
  join(g4xx, g4xx.testing_count, s.min_events);
  join(glog, glog.testing_count, s.min_events);
  join(gwarn, gwarn.testing_count, s.min_events);
  for (size_t i = 0; i < lost_tests.size(); ++i) {
    // A lost route needs 4xx where running answered 2xx/3xx, not just more 4xx.
    const auto& c = e.pairs.routes().at(lost_tests[i].route);
    join(lost_tests[i], std::min(c.testing_4xx, c.testing_4xx_running_ok), s.lost_route_min);
  }
  const auto judged = [&](const GateResult& g) {
    const auto& c = e.pairs.routes().at(g.route);
    return c.pairs >= s.route_min_pairs;
  };
  for (GateResult& g : route_5xx) {
    if (judged(g)) join(g, g.testing_count, s.min_events);
  }
  for (GateResult& g : route_log) {
    if (judged(g)) join(g, g.testing_count, s.min_events);
  }
  if (have_baseline) {
    join(g5xx_drift, g5xx_drift.testing_count, s.min_events);
    join(glog_drift, glog_drift.testing_count, s.min_events);
  }
  if (latency_gate) {
    // Its guard is min_pairs pairs, checked by DecideLatency: the events are pairs here.
    join(glatency, glatency.testing_total, 1);
    for (GateResult& g : route_latency) {
      if (judged(g)) join(g, g.testing_total, 1);
    }
  }
  for (BodyTest& b : body_tests) join(b.gate, b.gate.testing_count, s.min_events);
  std::vector<double> p_values;
  for (const FamilyMember& f : family) p_values.push_back(f.gate->p_value);
  std::vector<double> adjusted = HolmAdjusted(p_values);
  for (size_t i = 0; i < family.size(); ++i) family[i].gate->adjusted_p = adjusted[i];
  for (const FamilyMember& f : family) {
    if (f.gate->name != "latency") Decide(*f.gate, s.confidence, f.events, f.min_events);
  }
  DecideLatency(glatency, s.confidence, latency_gate, s.min_pairs);
  for (GateResult& g : route_latency) {
    DecideLatency(g, s.confidence, latency_gate && judged(g), s.route_min_pairs);
    if (latency_gate && !judged(g)) {
      g.outcome = GateOutcome::kNotJudged;
      g.detail = "not judged (" + FormatCount(g.testing_total) + " pairs < route_min_pairs " +
                 FormatCount(s.route_min_pairs) + "): " + LatencyText(g);
    }
  }
  for (std::vector<GateResult>* routes : {&route_5xx, &route_log}) {
    for (GateResult& g : *routes) {
      if (judged(g)) continue;
      Decide(g, s.confidence, 0, 1);  // for the figures; a small route cannot fail
      g.outcome = GateOutcome::kNotJudged;
      g.detail = "not judged (" + FormatCount(g.testing_total) + " pairs < route_min_pairs " +
                 FormatCount(s.route_min_pairs) + "): " + FiguresText(g);
    }
  }
  j.route_gates = route_5xx;
  j.route_gates.insert(j.route_gates.end(), route_log.begin(), route_log.end());
  j.route_gates.insert(j.route_gates.end(), route_latency.begin(), route_latency.end());
  for (const GateResult& g : j.route_gates) {
    if (g.outcome == GateOutcome::kFail &&
        std::find(j.worse_routes.begin(), j.worse_routes.end(), g.route) == j.worse_routes.end()) {
      j.worse_routes.push_back(g.route);
    }
  }

  j.gates.push_back(std::move(g5xx));
  j.gates.push_back(RoutesGate("5xx_routes", j.route_gates, "5xx", s.route_min_pairs));
  j.gates.push_back(std::move(g4xx));

  // Routes the candidate lost: the 4xx test, route by route. Never waits.
  GateResult lost = Named("lost_routes", GateOutcome::kPass);
  for (const GateResult& r : lost_tests) {
    const auto& c = e.pairs.routes().at(r.route);
    lost.testing_count += c.testing_4xx_running_ok;
    if (r.outcome == GateOutcome::kFail) {
      lost.outcome = GateOutcome::kFail;
      lost.culprits.push_back(r.route);
      lost.detail += (lost.detail.empty() ? "" : "; ") + r.route + ": " +
                     std::to_string(c.testing_4xx_running_ok) + " of " + std::to_string(c.pairs) +
                     " answered 4xx where running answered 2xx/3xx";
    }
  }
  if (lost.outcome == GateOutcome::kPass) lost.detail = "no route lost";
  if (p.testing_auth_stripped > 0) {
    lost.detail += "; " + FormatCount(p.testing_auth_stripped) +
                   " 401/403 of copies without their credentials not counted";
  }
  j.gates.push_back(std::move(lost));

  j.gates.push_back(std::move(glog));
  if (routed_logs) {
    j.gates.push_back(
        RoutesGate("log_error_routes", j.route_gates, "log_errors", s.route_min_pairs));
  } else {
    GateResult none = Named("log_error_routes", GateOutcome::kPass);
    none.detail = "no error line named its route (log_format.route_fields)";
    j.gates.push_back(std::move(none));
  }
  j.gates.push_back(std::move(gwarn));

  // Error kinds testing shows that running never has.
  GateResult kinds = Named("new_error_kinds", GateOutcome::kPass);
  for (const auto& [kind, count] : e.testing_logs.error_kinds) {
    if (e.running_kinds_ever.contains(kind)) continue;
    kinds.testing_count += count;
    if (count >= s.new_kind_min) {
      kinds.outcome = GateOutcome::kFail;
      kinds.culprits.push_back(kind);
      kinds.detail +=
          (kinds.detail.empty() ? "" : "; ") + kind + " (" + std::to_string(count) + " times)";
    }
  }
  if (kinds.outcome == GateOutcome::kPass) kinds.detail = "no new kind of error";
  j.gates.push_back(std::move(kinds));

  // Latency: the distributions, reported always; a gate only when configured. The older mean
  // ratio (max_latency_ratio) still fails the same gate when set.
  const uint64_t answered = p.pairs - p.testing_no_answer;
  const double mean_t = answered ? static_cast<double>(p.testing_latency_us_sum) / answered : 0;
  const double mean_r = p.pairs ? static_cast<double>(p.running_latency_us_sum) / p.pairs : 0;
  glatency.detail +=
      "; mean testing " + Number(mean_t / 1000) + " ms vs running " + Number(mean_r / 1000) + " ms";
  if (s.max_latency_ratio > 0 && mean_r > 0 && mean_t > s.max_latency_ratio * mean_r &&
      p.pairs >= s.min_pairs) {
    glatency.outcome = GateOutcome::kFail;
    glatency.detail += " > " + Number(s.max_latency_ratio) + "x";
  }
  j.gates.push_back(std::move(glatency));
  j.gates.push_back(RoutesGate("latency_routes", j.route_gates, "latency", s.route_min_pairs));
  if (!latency_gate) {
    j.gates.back().outcome = GateOutcome::kPass;
    j.gates.back().detail = "reported per route, not a gate (judge.latency_max_effect is 0)";
  }

  // Drift: against the pooled baseline of the last promoted versions.
  std::string baseline_name;
  for (const std::string& v : e.baseline.versions) {
    baseline_name += (baseline_name.empty() ? "" : ", ") + v;
  }
  for (GateResult* g : {&g5xx_drift, &glog_drift}) {
    if (!have_baseline) {
      g->outcome = GateOutcome::kPass;
      g->detail = "no promoted version recorded yet: no baseline";
    } else if (g->running_total == 0) {
      g->outcome = GateOutcome::kPass;
      g->detail = "the baseline (" + baseline_name + ") recorded no traffic for this gate";
    } else {
      g->detail += " (baseline: " + baseline_name + ")";
      g->culprits = e.baseline.versions;
    }
    j.gates.push_back(std::move(*g));
  }

  // Bodies: fails when a path differs between running and testing far more often than
  // between running and itself. Never waits.
  GateResult body = Named("body_diff", GateOutcome::kPass);
  body.testing_count = 0;
  body.testing_total = e.bodies.samples();
  for (BodyTest& b : body_tests) {
    if (b.gate.outcome != GateOutcome::kFail) continue;
    const std::string& path = b.gate.culprits[0];
    body.outcome = GateOutcome::kFail;
    ++body.testing_count;
    body.culprits.push_back(b.gate.route + " " + path);
    body.detail += (body.detail.empty() ? "" : "; ") + b.gate.route + " " + path + ": " +
                   std::string(BodyDiffKindName(b.counts->kind)) + " in " +
                   FormatCount(b.counts->testing) + " of " + FormatCount(b.gate.testing_total) +
                   " samples (running against itself: " + FormatCount(b.counts->running) + "), z " +
                   Number(b.gate.z) + ", Holm " + PValue(b.gate.adjusted_p) + "; e.g. " +
                   b.counts->example;
  }
  if (body.outcome == GateOutcome::kPass) {
    size_t routes = 0;
    for (const auto& [route, r] : e.bodies.routes()) routes += r.samples >= s.body_diff_min_samples;
    body.detail = FormatCount(e.bodies.samples()) + " samples, " + std::to_string(routes) +
                  " routes judged (from " + FormatCount(s.body_diff_min_samples) +
                  " samples): no path differs beyond running's own noise";
  }
  j.gates.push_back(std::move(body));

  // The reason names each worse route with its figures first, then the other failed gates.
  std::vector<std::string> failed, waiting;
  for (const GateResult& r : j.route_gates) {
    if (r.outcome == GateOutcome::kFail) {
      failed.push_back(RouteGateName(r) + ": " + r.detail.substr(r.detail.find(": ") + 2));
    }
  }
  for (const GateResult& g : j.gates) {
    const bool per_route =
        g.name == "5xx_routes" || g.name == "log_error_routes" || g.name == "latency_routes";
    if (g.outcome == GateOutcome::kFail && !per_route) failed.push_back(g.name + ": " + g.detail);
    if (g.outcome == GateOutcome::kWait && !per_route) waiting.push_back(g.name);
  }
  auto joined = [](const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
    return out;
  };
  if (!failed.empty()) {
    j.verdict = JudgeVerdict::kReject;
    j.reason = joined(failed, "; ");
    return j;
  }
  const bool window_done = e.window >= s.min_window && p.pairs >= s.min_pairs;
  if (window_done && waiting.empty()) {
    j.verdict = JudgeVerdict::kPromote;
    j.reason = "every gate passed after " + std::to_string(e.window.count()) + " s and " +
               std::to_string(p.pairs) + " pairs";
    if (!s.auto_promote_major && IsMajorVersionChange(e.running_version, e.testing_version)) {
      // Judged as usual; the step itself is a person's (judge.auto_promote_major).
      j.verdict = JudgeVerdict::kWait;
      j.awaiting_person = true;
      j.reason += "; waiting for a person: " + e.running_version + " to " + e.testing_version +
                  " is a major version change (judge.auto_promote_major is false), promote it "
                  "with `yoke promote --reason ...`";
    }
    return j;
  }
  if (e.window >= s.max_window && s.reject_at_max_window) {
    j.verdict = JudgeVerdict::kReject;
    j.reason = "not shown to be as good as running within " + std::to_string(s.max_window.count()) +
               " s; undecided: " + (waiting.empty() ? "too few pairs" : ShortList(waiting, 10));
    return j;
  }
  j.verdict = JudgeVerdict::kWait;
  j.reason = "window " + std::to_string(e.window.count()) + "/" +
             std::to_string(s.min_window.count()) + " s, pairs " + std::to_string(p.pairs) + "/" +
             std::to_string(s.min_pairs) +
             (waiting.empty() ? "" : "; undecided: " + ShortList(waiting, 10));
  return j;
}

}  // namespace yoke
