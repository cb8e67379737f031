#include "core/record_text.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

namespace yoke {
namespace {

class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      first_ = std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

Status ParseTextRecord(std::string_view name, const std::string& text,
                       google::protobuf::Message* record) {
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, record)) {
    return Invalid(std::string(name) + ":" +
                   (errors.first().empty() ? "1:1: unreadable record" : errors.first()));
  }
  return Ok();
}

Status ParseRecord(std::string_view name, const std::string& bytes,
                   google::protobuf::Message* record) {
  if (name.ends_with(".pb")) {
    if (!record->ParseFromString(bytes)) {
      return Fail(std::string(name) + ": not a binary " + record->GetTypeName() + " record");
    }
    return Ok();
  }
  return ParseTextRecord(name, bytes, record);
}

StatusOr<std::string> PrintTextRecord(const google::protobuf::Message& record) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(record, &text)) {
    return Fail("cannot print a " + record.GetTypeName() + " record");
  }
  return text;
}

}  // namespace yoke
