#include "fcgi/search_query.h"

#include "fcgi/input.h"
#include "fcgi/validate.h"

namespace parley::fcgi {
namespace {

Status InvalidQuery(const std::string& why) { return Status::Invalid("invalid_query", why); }

}  // namespace

Result<std::string> BuildMatchExpression(std::string_view q) {
  if (q.size() > kMaxSearchBytes) return InvalidQuery("the search may be at most 256 bytes");
  if (!ValidUtf8(q)) return InvalidQuery("the search is not valid UTF-8");
  if (HasControl(q, "\t\n\r")) return InvalidQuery("the search must not contain control characters");
  if (IsBlank(q)) return InvalidQuery("q must contain a word to search for");
  std::string out;
  size_t terms = 0;
  // Terms are split on every blank code point of IsBlank's set, not only
  // ASCII white space: "foo<U+3000>bar" reads as two words, and one quoted
  // string would make FTS5 (and PostgreSQL's phraseto_tsquery) ask for them
  // side by side, as a phrase. The zero-width characters separate terms too,
  // so a term made of them alone is no term (it was an empty string, which
  // FTS5 drops and PostgreSQL may read as a word of its own).
  for (size_t i = 0; i < q.size();) {
    size_t start = i;
    size_t end = i;
    while (i < q.size()) {
      size_t next = i;
      if (IsBlankCodePoint(NextCodePoint(q, &next))) {
        if (end > start) break;  // the term ends at this blank
        start = end = next;      // blanks before a term
      } else {
        end = next;
      }
      i = next;
    }
    std::string_view term = q.substr(start, end - start);
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
