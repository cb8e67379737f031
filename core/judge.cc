#include "core/judge.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace yoke {
namespace {

std::string Percent(double rate) {
  std::ostringstream out;
  out.precision(rate < 0.001 ? 3 : 2);
  out << std::fixed << rate * 100 << "%";
  return out.str();
}

std::string Number(double value) {
  std::ostringstream out;
  out.precision(3);
  out << value;
  return out.str();
}

// The rate comparison of CompareRates. `poisson` treats counts as events per request (a
// request may log several errors); otherwise each of the n is a yes/no trial.
GateResult Compare(std::string name, uint64_t x_t, uint64_t n_t, uint64_t x_r, uint64_t n_r,
                   double abs_margin, double rel_margin, double confidence, uint64_t min_events,
                   bool poisson) {
  GateResult g;
  g.name = std::move(name);
  g.testing_count = x_t;
  g.testing_total = n_t;
  g.running_count = x_r;
  g.running_total = n_r;
  g.testing_rate = n_t ? static_cast<double>(x_t) / n_t : 0;
  g.running_rate = n_r ? static_cast<double>(x_r) / n_r : 0;
  g.margin = std::max(abs_margin, rel_margin * g.running_rate);
  if (n_t == 0 || n_r == 0) {
    g.outcome = GateOutcome::kWait;
    g.detail = "no traffic yet";
    return g;
  }
  // Agresti-Caffo: one success and one failure added to each side, so that zero counts still
  // give an honest (non-zero) spread. For event rates, half an event (Poisson).
  const double add = poisson ? 0.5 : 1.0;
  const double pt = (x_t + add) / (n_t + 2 * add);
  const double pr = (x_r + add) / (n_r + 2 * add);
  const double var_t = poisson ? pt / (n_t + 2 * add) : pt * (1 - pt) / (n_t + 2 * add);
  const double var_r = poisson ? pr / (n_r + 2 * add) : pr * (1 - pr) / (n_r + 2 * add);
  const double se = std::sqrt(var_t + var_r);
  g.z = (pt - pr - g.margin) / se;
  const double z_alpha = ZForConfidence(confidence);
  const std::string figures =
      "testing " + Percent(g.testing_rate) + " (" + std::to_string(x_t) + "/" +
      std::to_string(n_t) + ") vs running " + Percent(g.running_rate) + " (" + std::to_string(x_r) +
      "/" + std::to_string(n_r) + "), margin " + Percent(g.margin) + ", z " + Number(g.z);
  if (g.z > z_alpha && x_t >= min_events) {
    g.outcome = GateOutcome::kFail;
    g.detail = "worse: " + figures + " > " + Number(z_alpha);
  } else if (g.z < -z_alpha) {
    g.outcome = GateOutcome::kPass;
    g.detail = "not worse: " + figures + " < -" + Number(z_alpha);
  } else {
    g.outcome = GateOutcome::kWait;
    g.detail = "undecided: " + figures;
  }
  return g;
}

GateResult Named(std::string name, GateOutcome outcome) {
  GateResult g;
  g.name = std::move(name);
  g.outcome = outcome;
  return g;
}

}  // namespace

std::string_view GateOutcomeName(GateOutcome outcome) {
  switch (outcome) {
    case GateOutcome::kPass:
      return "pass";
    case GateOutcome::kFail:
      return "fail";
    case GateOutcome::kWait:
      return "wait";
  }
  return "wait";
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
                        double abs_margin, double rel_margin, double confidence,
                        uint64_t min_events) {
  return Compare(std::move(name), x_t, n_t, x_r, n_r, abs_margin, rel_margin, confidence,
                 min_events, /*poisson=*/false);
}

Judgement Judge(const JudgeSettings& s, const Evidence& e) {
  Judgement j;
  const PairCounts& p = e.pairs.total();

  // Status codes, on the pairs: testing and running answered the same requests.
  j.gates.push_back(Compare("5xx", p.testing_errors, p.pairs, p.running_errors, p.pairs,
                            s.tolerance, s.relative_tolerance, s.confidence, s.min_events, false));
  j.gates.push_back(Compare("4xx", p.testing_4xx, p.pairs, p.running_4xx, p.pairs, s.tolerance,
                            s.relative_tolerance, s.confidence, s.min_events, false));

  // Routes the candidate lost: the same test, route by route.
  GateResult lost = Named("lost_routes", GateOutcome::kPass);
  for (const auto& [route, counts] : e.pairs.routes()) {
    GateResult r =
        Compare(route, counts.testing_4xx, counts.pairs, counts.running_4xx, counts.pairs,
                s.tolerance, s.relative_tolerance, s.confidence, s.lost_route_min, false);
    lost.testing_count += counts.testing_4xx_running_ok;
    if (r.outcome == GateOutcome::kFail && counts.testing_4xx_running_ok >= s.lost_route_min) {
      lost.outcome = GateOutcome::kFail;
      lost.culprits.push_back(route);
      lost.detail += (lost.detail.empty() ? "" : "; ") + route + ": " +
                     std::to_string(counts.testing_4xx_running_ok) + " of " +
                     std::to_string(counts.pairs) + " answered 4xx where running answered 2xx/3xx";
    }
  }
  if (lost.outcome == GateOutcome::kPass) lost.detail = "no route lost";
  j.gates.push_back(std::move(lost));

  // JSON logs, per request served. Testing's startup errors count against it.
  j.gates.push_back(Compare("log_errors", e.testing_logs.errors + e.testing_logs.startup_errors,
                            e.testing_requests, e.running_logs.errors, e.running_requests,
                            s.tolerance, s.relative_tolerance, s.confidence, s.min_events, true));
  j.gates.push_back(
      Compare("log_warnings", e.testing_logs.warnings + e.testing_logs.startup_warnings,
              e.testing_requests, e.running_logs.warnings, e.running_requests, s.warn_tolerance,
              s.relative_tolerance, s.confidence, s.min_events, true));

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

  // Latency: reported always; a gate only when configured.
  GateResult latency = Named("latency", GateOutcome::kPass);
  const uint64_t answered = p.pairs - p.testing_no_answer;
  const double mean_t = answered ? static_cast<double>(p.testing_latency_us_sum) / answered : 0;
  const double mean_r = p.pairs ? static_cast<double>(p.running_latency_us_sum) / p.pairs : 0;
  latency.testing_rate = mean_t / 1000;
  latency.running_rate = mean_r / 1000;
  latency.margin = s.max_latency_ratio;
  latency.detail =
      "mean testing " + Number(mean_t / 1000) + " ms vs running " + Number(mean_r / 1000) + " ms";
  if (s.max_latency_ratio > 0 && mean_r > 0 && mean_t > s.max_latency_ratio * mean_r &&
      p.pairs >= s.min_pairs) {
    latency.outcome = GateOutcome::kFail;
    latency.detail += " > " + Number(s.max_latency_ratio) + "x";
  } else if (s.max_latency_ratio <= 0) {
    latency.detail += " (reported, not a gate)";
  }
  j.gates.push_back(std::move(latency));

  std::string failed, waiting;
  for (const GateResult& g : j.gates) {
    if (g.outcome == GateOutcome::kFail)
      failed += (failed.empty() ? "" : "; ") + g.name + ": " + g.detail;
    if (g.outcome == GateOutcome::kWait) waiting += (waiting.empty() ? "" : ", ") + g.name;
  }
  if (!failed.empty()) {
    j.verdict = JudgeVerdict::kReject;
    j.reason = failed;
    return j;
  }
  const bool window_done = e.window >= s.min_window && p.pairs >= s.min_pairs;
  if (window_done && waiting.empty()) {
    j.verdict = JudgeVerdict::kPromote;
    j.reason = "every gate passed after " + std::to_string(e.window.count()) + " s and " +
               std::to_string(p.pairs) + " pairs";
    return j;
  }
  if (e.window >= s.max_window && s.reject_at_max_window) {
    j.verdict = JudgeVerdict::kReject;
    j.reason = "not shown to be as good as running within " + std::to_string(s.max_window.count()) +
               " s; undecided: " + (waiting.empty() ? "too few pairs" : waiting);
    return j;
  }
  j.verdict = JudgeVerdict::kWait;
  j.reason = "window " + std::to_string(e.window.count()) + "/" +
             std::to_string(s.min_window.count()) + " s, pairs " + std::to_string(p.pairs) + "/" +
             std::to_string(s.min_pairs) + (waiting.empty() ? "" : "; undecided: " + waiting);
  return j;
}

}  // namespace yoke
