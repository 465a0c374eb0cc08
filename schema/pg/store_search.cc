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
// Cost: the newest SearchQuery::scan matches of every room are read first,
// by whichever of the GIN index (a bitmap scan and a sort of the matches:
// cheap for a rare term) and a backward walk of the id index checking each
// row (cheap for a common one) the planner estimates cheaper; the
// membership join and ORDER BY id DESC LIMIT then pick the page among them.
// Before, the page was picked among every match: a common term of rooms
// the reader is not in was read whole. ts_headline runs for the page's rows
// only.
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
  // $1..$9 fixed, the terms from $10.
  std::vector<PgParam> params = {me.id, q.before.value_or(INT64_MAX), q.room_id, q.from_user, q.limit + 1,
                                 kHeadlineOptions, kWholeOptions, kSnippetWords, int64_t{q.scan}};
  std::string query;
  for (const Term& t : terms) {
    params.emplace_back(t.text);
    const std::string p = "phraseto_tsquery('parley_search', $" + std::to_string(params.size()) + ")";
    const std::string one =
        t.prefix ? "(CASE WHEN numnode(" + p + ") = 0 THEN " + p + " ELSE (" + p + "::text || ':*')::tsquery END)" : p;
    query += query.empty() ? one : " && " + one;
  }
  SearchHits hits;
  std::optional<int64_t> floor;
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginRead());
  if (q.room_id) PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, *q.room_id, true).status());
  {
    // w: the newest q.scan matches of every room (the bound on what a
    // search reads), then the page among them. The query is written out in
    // w, not taken from a CTE, so that the planner estimates how many
    // messages it matches (a common term: walk the id index backwards; a
    // rare one: the GIN index). One row at least, for the window's size.
    Result<PgResult> r = conn_.Exec(
        "WITH w AS MATERIALIZED (SELECT m.id, m.room_id, m.user_id, m.deleted FROM messages m "
        "WHERE m.search @@ (" + query + ") AND m.id < $2 ORDER BY m.id DESC LIMIT $9), "
        "page AS (SELECT w.id FROM w JOIN members mb ON mb.room_id = w.room_id AND mb.user_id = $1 "
        "WHERE w.deleted = 0 AND ($3::bigint IS NULL OR w.room_id = $3) AND ($4::bigint IS NULL OR w.user_id = $4) "
        "ORDER BY w.id DESC LIMIT $5) "
        "SELECT n.read, n.oldest, p.id, CASE WHEN p.id IS NULL THEN NULL "
        "WHEN (SELECT COUNT(*) FROM ts_parse('default', p.text) t WHERE t.tokid <> 12) <= $8 "
        "THEN ts_headline('parley_search', p.text, s.query, $7) "
        "ELSE ts_headline('parley_search', p.text, s.query, $6) END "
        "FROM (SELECT COUNT(*) AS read, MIN(id) AS oldest FROM w) n CROSS JOIN (SELECT " + query + " AS query) s "
        "LEFT JOIN (SELECT m.id, m.text FROM page JOIN messages m ON m.id = page.id) p ON true ORDER BY p.id DESC",
        params);
    if (!r.ok()) {
      if (r.status().code() == Code::kInternal) {
        return Status::Invalid("invalid_query", "the search terms could not be understood");
      }
      return r.status();
    }
    PARLEY_ASSIGN_OR_RETURN(int64_t read, r->Int(0, 0));
    if (read == q.scan) {
      PARLEY_ASSIGN_OR_RETURN(int64_t oldest, r->Int(0, 1));
      floor = oldest;
    }
    for (int i = 0; i < r->Rows(); ++i) {
      if (r->IsNull(i, 2)) continue;
      PARLEY_ASSIGN_OR_RETURN(int64_t id, r->Int(i, 2));
      hits.emplace_back(id, r->Text(i, 3));
    }
  }
  // Every hit exists: the snapshot that found it is still open.
  PARLEY_ASSIGN_OR_RETURN(SearchPage page, SearchPageOf(std::move(hits), q.limit, floor, [&](const std::vector<int64_t>& ids) {
                            return LoadMessages(ids, me.id);
                          }));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return page;
}

}  // namespace parley::pg
