#include "core/artifact_name.h"

#include <array>
#include <cctype>

#include "core/version.h"

namespace yoke {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsInProgressName(std::string_view name) {
  constexpr std::array kSuffixes = {"~", ".part", ".tmp", ".swp", ".crdownload", ".partial"};
  if (name.empty() || name[0] == '.') return true;
  for (std::string_view s : kSuffixes) {
    if (EndsWith(name, s)) return true;
  }
  return false;
}

// The last ".xyz" of `rest` when it starts with a letter; empty when there is none.
std::string_view LastLetterPart(std::string_view rest) {
  auto dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= rest.size()) return {};
  if (!std::isalpha(static_cast<unsigned char>(rest[dot + 1]))) return {};
  for (char c : rest.substr(dot + 1)) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return {};
  }
  return rest.substr(dot);
}

}  // namespace

std::optional<ArtifactName> ParseArtifactName(std::string_view identifier,
                                              std::string_view file_name) {
  if (identifier.empty() || IsInProgressName(file_name)) return std::nullopt;
  if (file_name.size() <= identifier.size() + 1) return std::nullopt;
  if (file_name.substr(0, identifier.size()) != identifier) return std::nullopt;
  if (file_name[identifier.size()] != '-') return std::nullopt;
  std::string_view rest = file_name.substr(identifier.size() + 1);

  std::string_view ext = LastLetterPart(rest);
  std::string_view version = rest.substr(0, rest.size() - ext.size());
  constexpr std::array kCompressed = {".gz", ".xz", ".bz2", ".zst"};
  for (std::string_view c : kCompressed) {
    if (ext == c && EndsWith(version, ".tar")) {
      version.remove_suffix(4);
      ext = rest.substr(version.size());
    }
  }
  if (!IsValidVersionString(version)) return std::nullopt;
  return ArtifactName{std::string(version), std::string(ext)};
}

bool IsSafeComponent(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  for (char c : name) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

}  // namespace yoke
