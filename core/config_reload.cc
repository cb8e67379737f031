#include "core/config_reload.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>

namespace yoke {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Whether field `fd` says the same in `a` and `b` (presence included, for proto2 optionals: an
// explicit default and an absent field read the same, and count as the same).
bool SameField(const Message& a, const Message& b, const FieldDescriptor* fd) {
  const Reflection* ra = a.GetReflection();
  const Reflection* rb = b.GetReflection();
  if (fd->is_repeated()) {
    if (ra->FieldSize(a, fd) != rb->FieldSize(b, fd)) return false;
    google::protobuf::util::MessageDifferencer diff;
    if (fd->is_map()) diff.TreatAsMap(fd, fd->message_type()->field(0));
    std::vector<const FieldDescriptor*> only{fd};
    return diff.CompareWithFields(a, b, only, only);
  }
  std::vector<const FieldDescriptor*> only{fd};
  google::protobuf::util::MessageDifferencer diff;
  diff.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  return diff.CompareWithFields(a, b, only, only);
}

void Diff(const Message& current, const Message& next, const std::string& prefix, Message* applied,
          ConfigReload* out) {
  const auto* descriptor = current.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* fd = descriptor->field(i);
    const std::string path = prefix.empty() ? fd->name() : prefix + "." + fd->name();
    if (SameField(current, next, fd)) continue;
    const bool live = IsLiveConfigField(path);
    const bool whole_live = std::find(LiveConfigFields().begin(), LiveConfigFields().end(), path) !=
                            LiveConfigFields().end();
    if (fd->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !fd->is_repeated() && !whole_live) {
      // Into the message: some of its fields may be live and others not.
      const Reflection* r = applied->GetReflection();
      Diff(current.GetReflection()->GetMessage(current, fd),
           next.GetReflection()->GetMessage(next, fd), path, r->MutableMessage(applied, fd), out);
      continue;
    }
    if (live) {
      // Swapped in from a copy of `next`: the one generic way to copy one field, presence and all.
      std::unique_ptr<Message> source(next.New());
      source->CopyFrom(next);
      applied->GetReflection()->SwapFields(applied, source.get(), {fd});
      out->changed_live.push_back(path);
    } else {
      out->needs_restart.push_back(path);
    }
  }
}

}  // namespace

const std::vector<std::string>& LiveConfigFields() {
  static const std::vector<std::string> kLive = {
      "health", "stop_grace_ms", "disk_budget_bytes",      "intake", "log.level",
      "mirror", "judge",         "proxy.drain_timeout_ms",
  };
  return kLive;
}

bool IsLiveConfigField(const std::string& path) {
  for (const std::string& live : LiveConfigFields()) {
    if (path == live ||
        (path.size() > live.size() && path.starts_with(live) && path[live.size()] == '.')) {
      return true;
    }
  }
  return false;
}

ConfigReload PlanReload(const Config& current, const Config& next) {
  ConfigReload out;
  out.applied = current;
  Diff(current, next, "", &out.applied, &out);
  return out;
}

}  // namespace yoke
