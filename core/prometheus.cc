#include "core/prometheus.h"

#include <cassert>

namespace yoke {
namespace {

// HELP text escapes only backslash and newline; a double quote stays as it is.
std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string PrometheusEscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void PrometheusText::Add(std::string_view name, std::string_view help, std::string_view type,
                         std::string_view suffix, const PrometheusLabels& labels,
                         const std::string& value) {
  auto it = index_.find(name);
  if (it == index_.end()) {
    it = index_.emplace(std::string(name), families_.size()).first;
    families_.push_back(
        {fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(help), name, type), {}});
  }
  std::string& out = families_[it->second].samples;
  out.append(name).append(suffix);
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out.append(labels[i].first).append("=\"");
      out += PrometheusEscapeLabel(labels[i].second);
      out += '"';
    }
    out += '}';
  }
  out.append(" ").append(value).append("\n");
}

void PrometheusText::Histogram(std::string_view name, std::string_view help,
                               std::span<const double> upper_bounds,
                               std::span<const uint64_t> counts, double sum, uint64_t count,
                               const PrometheusLabels& labels) {
  assert(counts.size() == upper_bounds.size() + 1);
  auto with_le = [&labels](std::string_view le) {
    PrometheusLabels all = labels;
    all.emplace_back("le", le);
    return all;
  };
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    cumulative += counts[i];
    const std::string le = fmt::format("{}", upper_bounds[i]);
    Add(name, help, "histogram", "_bucket", with_le(le), fmt::format("{}", cumulative));
  }
  cumulative += counts.back();
  Add(name, help, "histogram", "_bucket", with_le("+Inf"), fmt::format("{}", cumulative));
  Add(name, help, "histogram", "_sum", labels, fmt::format("{}", sum));
  Add(name, help, "histogram", "_count", labels, fmt::format("{}", count));
}

std::string PrometheusText::Text() const {
  std::string out;
  for (const Family& f : families_) out.append(f.head).append(f.samples);
  return out;
}

}  // namespace yoke
