#include "core/record_text.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <memory>

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
                       google::protobuf::Message* record,
                       google::protobuf::TextFormat::ParseInfoTree* locations) {
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (locations) parser.WriteLocationsTo(locations);
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

StatusOr<std::string> PrintJsonRecord(const google::protobuf::Message& record) {
  namespace pb = google::protobuf;
  // What MessageToJsonString does, but from a deterministic serialisation: it orders map entries
  // by key, so /status lists routes and reasons in the same order on every call.
  std::string binary;
  {
    pb::io::StringOutputStream stream(&binary);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!record.SerializeToCodedStream(&coded)) {
      return Fail("cannot serialise a " + record.GetTypeName() + " record");
    }
  }
  static constexpr char kUrlPrefix[] = "type.googleapis.com";
  const pb::DescriptorPool* pool = record.GetDescriptor()->file()->pool();
  std::unique_ptr<pb::util::TypeResolver> resolver(
      pb::util::NewTypeResolverForDescriptorPool(kUrlPrefix, pool));
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto printed = pb::util::BinaryToJsonString(
      resolver.get(), std::string(kUrlPrefix) + "/" + record.GetDescriptor()->full_name(), binary,
      &json, options);
  if (!printed.ok()) {
    return Fail("cannot print a " + record.GetTypeName() +
                " record as JSON: " + std::string(printed.message()));
  }
  return json;
}

Status ParseJsonRecord(std::string_view name, std::string_view json,
                       google::protobuf::Message* record) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), record, options);
  if (!parsed.ok()) {
    return Fail(std::string(name) + ": not a " + record->GetTypeName() +
                " in JSON: " + std::string(parsed.message()));
  }
  return Ok();
}

}  // namespace yoke
