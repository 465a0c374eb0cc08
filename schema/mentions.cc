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

bool StartsWith(std::string_view text, size_t i, std::string_view prefix) {
  if (text.size() - i < prefix.size()) return false;
  for (size_t k = 0; k < prefix.size(); ++k) {
    char c = text[i + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[k]) return false;
  }
  return true;
}

// ASCII white space ends an address, not a U+00A0 or other Unicode space:
// the web client's link ends there, but it draws no mention in the rest of
// the address either (www/js/mentions.js reads by these rules).
bool Space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::vector<std::string> MentionNames(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size() && out.size() < kMaxMentionNames; ++i) {
    if (StartsWith(text, i, "http://") || StartsWith(text, i, "https://")) {
      while (i + 1 < text.size() && !Space(text[i + 1])) ++i;
      continue;
    }
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
