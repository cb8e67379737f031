#include "supervisor/cli/config_loader.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "core/config_check.h"
#include "platform/posix_env.h"

namespace yoke {
namespace {

namespace pb = google::protobuf;

class Collect : public pb::io::ErrorCollector {
 public:
  explicit Collect(std::string file) : file_(std::move(file)) {}
  void AddError(int line, int column, const std::string& message) override {
    lines_ += file_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) +
              ": error: " + message + "\n";
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }
  const std::string& lines() const { return lines_; }

 private:
  std::string file_;
  std::string lines_;
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
  auto text = PosixEnv()->ReadFile(path);
  if (!text) return Fail(path.string() + ": error: " + text.error().message());
  Config config;
  pb::TextFormat::Parser parser;
  Collect errors(path.string());
  pb::TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(*text, &config)) {
    return Fail(errors.lines().empty() ? path.string() + ": error: cannot parse" : errors.lines());
  }
  std::string lines;
  for (const ConfigProblem& problem : CheckConfig(config)) {
    auto where = Locate(tree, config, problem.field_path);
    lines += path.string() + ":" + std::to_string(where.line + 1) + ":" +
             std::to_string(where.column + 1) + ": error: " + problem.message + "\n";
  }
  if (!lines.empty()) return Fail(lines);
  return config;
}

}  // namespace yoke
