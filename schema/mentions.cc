#include "schema/mentions.h"

#include <algorithm>

namespace parley {
namespace {

bool UsernameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

void AddName(std::vector<std::string>& out, std::string_view name) {
  if (name.empty() || name == "." || name == ".." || out.size() >= kMaxMentionNames) return;
  if (std::find(out.begin(), out.end(), name) == out.end()) out.emplace_back(name);
}

}  // namespace

std::vector<std::string> MentionNames(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size() && out.size() < kMaxMentionNames; ++i) {
    if (text[i] != '@' || (i > 0 && UsernameChar(text[i - 1]))) continue;
    size_t end = i + 1;
    while (end < text.size() && UsernameChar(text[end])) ++end;
    std::string_view name = text.substr(i + 1, end - i - 1);
    i = end - 1;
    if (name.size() > 32) continue;  // no username is that long
    AddName(out, name);
    size_t trimmed = name.find_last_not_of('.');
    if (trimmed != std::string_view::npos && trimmed + 1 < name.size()) AddName(out, name.substr(0, trimmed + 1));
  }
  return out;
}

}  // namespace parley
