#include "base-layout/text_record.h"

#include "core/record_text.h"

namespace yoke {

Status WriteTextRecord(Env& env, const std::filesystem::path& path,
                       const google::protobuf::Message& record) {
  YOKE_ASSIGN_OR_RETURN(std::string text, PrintTextRecord(record));
  return env.WriteFileAtomic(path, text);
}

Status ReadTextRecord(Env& env, const std::filesystem::path& path,
                      google::protobuf::Message* record) {
  YOKE_ASSIGN_OR_RETURN(std::string text, env.ReadFile(path));
  return ParseTextRecord(path.string(), text, record);
}

}  // namespace yoke
