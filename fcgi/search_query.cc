#include "fcgi/search_query.h"

#include "fcgi/input.h"
#include "fcgi/validate.h"

namespace parley::fcgi {
namespace {

Status InvalidQuery(const std::string& why) { return Status::Invalid("invalid_query", why); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Result<std::string> BuildMatchExpression(std::string_view q) {
  if (q.size() > kMaxSearchBytes) return InvalidQuery("the search may be at most 256 bytes");
  if (!ValidUtf8(q)) return InvalidQuery("the search is not valid UTF-8");
  if (HasControl(q, "\t\n\r")) return InvalidQuery("the search must not contain control characters");
  if (IsBlank(q)) return InvalidQuery("q must contain a word to search for");
  std::string out;
  size_t terms = 0;
  for (size_t i = 0; i < q.size();) {
    while (i < q.size() && IsSpace(q[i])) ++i;
    size_t start = i;
    while (i < q.size() && !IsSpace(q[i])) ++i;
    std::string_view term = q.substr(start, i - start);
    if (term.empty()) continue;
    bool prefix = term.size() > 1 && term.back() == '*';
    if (prefix) term.remove_suffix(1);
    if (++terms > kMaxSearchTerms) return InvalidQuery("the search may have at most 16 words");
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : term) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
    if (prefix) out += '*';
  }
  if (terms == 0) return InvalidQuery("q must contain a word to search for");
  return out;
}

}  // namespace parley::fcgi
