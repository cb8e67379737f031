#include "core/command.h"

namespace yoke {

StatusOr<std::vector<std::string>> SplitCommand(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < command.size()) {
        word.push_back(command[++i]);
      } else {
        word.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < command.size()) {
      word.push_back(command[++i]);
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (quote) return Fail(std::string("unclosed ") + quote + " quote in command");
  if (in_word) words.push_back(std::move(word));
  return words;
}

StatusOr<std::vector<std::string>> ExpandCommand(std::string_view command,
                                                 const std::map<std::string, std::string>& values) {
  YOKE_ASSIGN_OR_RETURN(std::vector<std::string> words, SplitCommand(command));
  for (std::string& word : words) {
    std::string out;
    size_t pos = 0;
    while (pos < word.size()) {
      size_t open = word.find('{', pos);
      if (open == std::string::npos) {
        out.append(word, pos);
        break;
      }
      out.append(word, pos, open - pos);
      size_t close = word.find('}', open);
      if (close == std::string::npos) return Fail("unclosed '{' in command word '" + word + "'");
      std::string name = word.substr(open + 1, close - open - 1);
      auto it = values.find(name);
      if (it == values.end()) {
        return Fail("unknown placeholder {" + name +
                    "} in command; known: {artifact} {port} {instance_dir} {version}");
      }
      out.append(it->second);
      pos = close + 1;
    }
    word = std::move(out);
  }
  if (words.empty()) return Fail("command is empty");
  return words;
}

}  // namespace yoke
