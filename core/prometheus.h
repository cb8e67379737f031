// Prometheus text exposition (format 0.0.4), the one writer of /metrics: callers add samples,
// the builder writes each metric family's `# HELP` and `# TYPE` once, keeps a family's samples
// together even when they are added apart, and escapes label values (backslash, double quote,
// newline) and help text (backslash, newline). Values print as fmt's "{}" prints them: integers
// exactly, doubles in their shortest form.
// Pure. Thread-safety: one builder per rendering; not to be shared between threads.
#pragma once

#include <fmt/format.h>

#include <concepts>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yoke {

// Label names and values, in the order they are written.
using PrometheusLabels = std::vector<std::pair<std::string_view, std::string_view>>;

template <typename T>
concept PrometheusNumber = (std::integral<T> && !std::same_as<T, bool>) || std::floating_point<T>;

class PrometheusText {
 public:
  template <PrometheusNumber T>
  void Counter(std::string_view name, std::string_view help, T value,
               const PrometheusLabels& labels = {}) {
    Add(name, help, "counter", "", labels, fmt::format("{}", value));
  }
  template <PrometheusNumber T>
  void Gauge(std::string_view name, std::string_view help, T value,
             const PrometheusLabels& labels = {}) {
    Add(name, help, "gauge", "", labels, fmt::format("{}", value));
  }
  // `counts` holds one count per bucket of `upper_bounds` plus the +Inf bucket, not
  // cumulative; the builder writes the cumulative `_bucket` series, `_sum` and `_count`.
  // REQUIRES: counts.size() == upper_bounds.size() + 1.
  // `labels` go on every series, before `le`.
  void Histogram(std::string_view name, std::string_view help, std::span<const double> upper_bounds,
                 std::span<const uint64_t> counts, double sum, uint64_t count,
                 const PrometheusLabels& labels = {});

  // The exposition: families in the order they were first added.
  std::string Text() const;

 private:
  struct Family {
    std::string head;  // the # HELP and # TYPE lines
    std::string samples;
  };
  void Add(std::string_view name, std::string_view help, std::string_view type,
           std::string_view suffix, const PrometheusLabels& labels, const std::string& value);

  std::vector<Family> families_;
  std::map<std::string, size_t, std::less<>> index_;  // family name -> families_
};

// A label value as the text format writes it between double quotes.
std::string PrometheusEscapeLabel(std::string_view value);

}  // namespace yoke
