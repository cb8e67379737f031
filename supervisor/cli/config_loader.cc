#include "supervisor/cli/config_loader.h"

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <map>
#include <memory>
#include <regex>

#include "core/clean_pass.h"
#include "core/config_check.h"
#include "core/config_settings.h"
#include "core/suggest.h"
#include "platform/posix_env.h"

namespace yoke {
namespace {

namespace pb = google::protobuf;

// Problems by line and column, so each is said once and in the file's order.
using Problems = std::map<std::pair<int, int>, std::string>;

class Collect : public pb::io::ErrorCollector {
 public:
  explicit Collect(Problems* problems) : problems_(problems) {}
  void AddError(int line, int column, const std::string& message) override {
    if (first_error_line_ < 0) first_error_line_ = line;
    problems_->emplace(std::pair{line, column}, message);
  }
  // Unknown fields arrive here (the parser is told to skip them, so it finds every one); for
  // yoke they are errors like the rest, with the nearest known name.
  void AddWarning(int line, int column, const std::string& message) override {
    problems_->emplace(std::pair{line, column}, WithSuggestion(message));
  }
  int first_error_line() const { return first_error_line_; }

 private:
  static std::string WithSuggestion(const std::string& message) {
    // protobuf: Message type "yoke.JudgeConfig" has no field named "min_pair".
    static const std::regex kUnknown(R"re(Message type "([^"]+)" has no field named "([^"]+)")re");
    std::smatch m;
    if (!std::regex_search(message, m, kUnknown)) return message;
    const pb::Descriptor* type =
        pb::DescriptorPool::generated_pool()->FindMessageTypeByName(m[1].str());
    if (!type) return message;
    std::vector<std::string> names;
    for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->name());
    auto near = NearestName(m[2].str(), names);
    return near ? message + " Did you mean \"" + *near + "\"?" : message;
  }
  Problems* problems_;
  int first_error_line_ = -1;
};

// Where a field path was written in the file: the deepest part of the path that appears,
// or line 1 when the field was left out.
pb::TextFormat::ParseLocation Locate(const pb::TextFormat::ParseInfoTree& root,
                                     const pb::Message& message,
                                     const std::vector<std::string>& path) {
  pb::TextFormat::ParseLocation where{0, 0};
  const pb::TextFormat::ParseInfoTree* tree = &root;
  const pb::Descriptor* descriptor = message.GetDescriptor();
  for (const std::string& name : path) {
    if (!tree || !descriptor) break;
    const pb::FieldDescriptor* field = descriptor->FindFieldByName(name);
    if (!field) break;
    int index = field->is_repeated() ? 0 : -1;
    auto location = tree->GetLocation(field, index);
    if (location.line < 0) break;
    where = location;
    tree = field->message_type() ? tree->GetTreeForNested(field, index) : nullptr;
    descriptor = field->message_type();
  }
  return where;
}

}  // namespace

StatusOr<Config> LoadConfig(const std::filesystem::path& path) {
  if (path.empty()) {
    return Fail(
        "no config given: name a service (reads /etc/yoke/NAME.txtpb, or $YOKE_CONFIG_DIR), give "
        "--config FILE, or set YOKE_CONFIG");
  }
  auto text = PosixEnv()->ReadFile(path);
  if (!text) return Fail(path.string() + ": error: " + text.error().message());
  // A parse stops at its first syntax error. To report every one, the line of each error is
  // blanked (columns kept) and the text parsed again, a bounded number of times; the rule checks
  // run only on a file without syntax errors, since a blanked line would make them guess.
  Problems problems;
  std::string work = *text;
  Config config;
  auto tree = std::make_unique<pb::TextFormat::ParseInfoTree>();  // not assignable: made anew
  bool syntax_ok = true;
  for (int attempt = 0; attempt < 50; ++attempt) {
    Collect errors(&problems);
    pb::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.AllowUnknownField(true);
    tree = std::make_unique<pb::TextFormat::ParseInfoTree>();
    parser.WriteLocationsTo(tree.get());
    config.Clear();
    if (parser.ParseFromString(work, &config)) break;
    syntax_ok = false;
    const int line = errors.first_error_line();
    // Find the line; stop when there is nothing left on it to blank (the end of the input).
    size_t start = 0;
    for (int l = 0; l < line && start != std::string::npos; ++l) {
      start = work.find('\n', start);
      if (start != std::string::npos) ++start;
    }
    if (line < 0 || start == std::string::npos || start >= work.size()) break;
    size_t end = work.find('\n', start);
    if (end == std::string::npos) end = work.size();
    if (work.find_first_not_of(" \t\r", start) >= end) break;
    for (size_t i = start; i < end; ++i) work[i] = ' ';
  }
  std::string lines;
  for (const auto& [where, message] : problems) {
    lines += path.string() + ":" + std::to_string(where.first + 1) + ":" +
             std::to_string(where.second + 1) + ": error: " + message + "\n";
  }
  if (!syntax_ok) {
    return Fail(lines.empty() ? path.string() + ": error: cannot parse\n" : lines);
  }
  for (const ConfigProblem& problem : CheckConfig(config)) {
    auto where = Locate(*tree, config, problem.field_path);
    lines += path.string() + ":" + std::to_string(where.line + 1) + ":" +
             std::to_string(where.column + 1) + ": error: " + problem.message + "\n";
  }
  if (!lines.empty()) return Fail(lines);
  return config;
}

std::vector<std::string> ConfigWarnings(const std::filesystem::path& path, const Config& config) {
  std::vector<std::string> out;
  const JudgeSettings settings = JudgeSettingsFrom(config);
  std::string gate;
  const uint64_t needed = StatisticalCleanPairs(settings, &gate);
  if (settings.min_pairs < needed) {
    out.push_back(fmt::format(
        "{}: warning: judge.min_pairs is {}, but at the configured margins and confidence the "
        "judge cannot promote before about {} pairs (a clean {} gate needs that many; "
        "docs/judge.md). Set min_pairs to {}, or widen the margin (judge.tolerance) if the "
        "service gets fewer pairs than that within max_window_s.",
        path.string(), settings.min_pairs, needed, gate, needed));
  }
  return out;
}

}  // namespace yoke
