// PgStore: full-text search over the rooms a user is a member of now, with
// the SearchQuery/SearchPage contract of SQLite's schema/store_search.cc, on
// the generated tsvector column and GIN index of migrations 002 and 005.
//
// Design note. The caller builds q.match for FTS5 (fcgi/search_query.cc):
// quoted terms ("a ""b"" c"), a '*' after one for a prefix, all of which
// must occur. Here each term becomes a tsquery built by PostgreSQL itself
// from the term as a bound parameter (phraseto_tsquery: its words in a row,
// as FTS5 reads a quoted string), a prefix term with ':*' on its last word;
// the terms are ANDed. No user text is ever parsed as tsquery syntax. The
// tsvector column is computed in the statement that writes the text, so an
// edit is found as it now reads and a delete (text '') is never found.
//
// Cost: the GIN index yields every matching message; the membership join
// and ORDER BY id DESC LIMIT then pick the page (a bitmap scan and a sort of
// the matches, where FTS5 walked rowids newest first). ts_headline runs for
// the page's rows only.
//
// Words are folded by the configuration parley_search of migration 005
// (unaccent, then 'simple'), the same for the texts, the query terms and
// the snippets: "cafe" finds "Café" and marks it, as FTS5 does.
#include <string_view>

#include "schema/pg/store.h"
#include "schema/store_rules.h"

namespace parley::pg {
namespace {

struct Term {
  std::string text;
  bool prefix = false;
};

// The terms of an FTS5 expression of quoted strings; kInvalid invalid_query
// for anything else (the caller never builds it).
Result<std::vector<Term>> ParseMatch(std::string_view match) {
  std::vector<Term> out;
  size_t i = 0;
  while (i < match.size()) {
    if (match[i] == ' ') {
      ++i;
      continue;
    }
    if (match[i] != '"') break;
    Term t;
    for (++i;; ++i) {
      if (i >= match.size()) return Status::Invalid("invalid_query", "the search terms could not be understood");
      if (match[i] == '"') {
        if (i + 1 < match.size() && match[i + 1] == '"') {
          t.text += '"';
          ++i;
          continue;
        }
        ++i;
        break;
      }
      t.text += match[i];
    }
    if (i < match.size() && match[i] == '*') {
      t.prefix = true;
      ++i;
    }
    out.push_back(std::move(t));
  }
  if (i < match.size() || out.empty()) {
    return Status::Invalid("invalid_query", "the search terms could not be understood");
  }
  return out;
}

// \u0002 and \u0003 around each match, '…' between fragments, about 16
// words, as SQLite's snippet(messages_fts, 0, char(2), char(3), '…', 16).
constexpr const char* kHeadlineOptions =
    "StartSel=\x02, StopSel=\x03, MaxWords=16, MinWords=8, ShortWord=0, MaxFragments=1, FragmentDelimiter=…";
// A text of at most kSnippetWords words, as snippet() gives it: whole, every
// match marked. A fragment would drop what is not a word at either end (the
// "@" of a mention, a closing full stop). Words are the tokens of the
// default parser that are not blanks (token type 12: spaces and
// punctuation), as FTS5's unicode61 counts runs of letters and digits.
constexpr const char* kWholeOptions = "StartSel=\x02, StopSel=\x03, HighlightAll=true";
constexpr int kSnippetWords = 16;

}  // namespace

Result<SearchPage> PgStore::Search(const User& me, const SearchQuery& q) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<Term> terms, ParseMatch(q.match));
  // $1..$8 fixed, the terms from $9.
  std::vector<PgParam> params = {me.id, q.before.value_or(INT64_MAX), q.room_id, q.from_user, q.limit + 1,
                                 kHeadlineOptions, kWholeOptions, kSnippetWords};
  std::string query;
  for (const Term& t : terms) {
    params.emplace_back(t.text);
    const std::string p = "phraseto_tsquery('parley_search', $" + std::to_string(params.size()) + ")";
    const std::string one =
        t.prefix ? "(CASE WHEN numnode(" + p + ") = 0 THEN " + p + " ELSE (" + p + "::text || ':*')::tsquery END)" : p;
    query += query.empty() ? one : " && " + one;
  }
  SearchHits hits;
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginRead());
  if (q.room_id) PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, *q.room_id, true).status());
  {
    Result<PgResult> r = conn_.Exec(
        "SELECT m.id, CASE WHEN (SELECT COUNT(*) FROM ts_parse('default', m.text) t WHERE t.tokid <> 12) <= $8 "
        "THEN ts_headline('parley_search', m.text, s.query, $7) "
        "ELSE ts_headline('parley_search', m.text, s.query, $6) END "
        "FROM (SELECT " + query + " AS query) s "
        "JOIN messages m ON m.search @@ s.query "
        "JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = $1 "
        "WHERE m.id < $2 AND m.deleted = 0 AND ($3::bigint IS NULL OR m.room_id = $3) "
        "AND ($4::bigint IS NULL OR m.user_id = $4) ORDER BY m.id DESC LIMIT $5",
        params);
    if (!r.ok()) {
      if (r.status().code() == Code::kInternal) {
        return Status::Invalid("invalid_query", "the search terms could not be understood");
      }
      return r.status();
    }
    for (int i = 0; i < r->Rows(); ++i) {
      PARLEY_ASSIGN_OR_RETURN(int64_t id, r->Int(i, 0));
      hits.emplace_back(id, r->Text(i, 1));
    }
  }
  // Every hit exists: the snapshot that found it is still open.
  PARLEY_ASSIGN_OR_RETURN(SearchPage page, SearchPageOf(std::move(hits), q.limit, [&](const std::vector<int64_t>& ids) {
                            return LoadMessages(ids, me.id);
                          }));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return page;
}

}  // namespace parley::pg
