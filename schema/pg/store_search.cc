// PgStore: full-text search over the rooms a user is a member of now, with
// the SearchQuery/SearchPage contract of SQLite's schema/store_search.cc, on
// the generated tsvector column and GIN index of migrations 002, 005 and 015.
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
// the reader is not in was read whole. When that left the page short, a
// reader in a few rooms reads on in their own (SearchGoesOnInRooms,
// store_rules.h): the window's messages of those rooms, at most about
// q.scan, by the (room_id, id) index, each tested against the query, as
// SQLite's second step asks FTS5 for the rooms' matches. ts_headline runs
// for the page's rows only.
//
// Words are folded by the configuration parley_search of migration 005
// (unaccent, then 'simple'), the same for the texts, the query terms and
// the snippets: "cafe" finds "Café" and marks it, as FTS5 does. Texts,
// terms and snippets first have their ASCII punctuation made blanks
// (migration 015's parley_search_words), so the parser's host, e-mail, URL
// and path tokens ("example.com") are words as FTS5 reads them; a snippet
// then gets its punctuation back (SnippetAsWritten).
#include <string>
#include <string_view>

#include "schema/pg/key_range.h"
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

// The snippet of a text, made by ts_headline from parley_search_words(text)
// (its words as the index holds them: "example.com" two words, so a search
// for "example" marks it), given back with the text's own characters.
// translate there maps one ASCII character to one, so the same bytes of
// text and words are the same characters, or a punctuation mark and its
// blank. The headline is those words, whole or one fragment, with \x02 and
// \x03 around each match (text never holds either: control characters are
// refused). A fragment found twice in the words is taken at its first place
// (ts_headline picked one of them; their text may differ in punctuation
// only); one not found at all (never seen) is left as it is.
std::string SnippetAsWritten(const std::string& text, const std::string& headline) {
  std::string words = text;
  for (char& c : words) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (c > 0x20 && c < 0x7F && !alnum) c = ' ';  // translate's 32 characters
  }
  std::string plain;
  for (char c : headline) {
    if (c != '\x02' && c != '\x03') plain += c;
  }
  const size_t at = words.find(plain);
  if (at == std::string::npos) return headline;
  std::string out;
  out.reserve(headline.size());
  size_t j = at;
  for (char c : headline) out += c == '\x02' || c == '\x03' ? c : text[j++];
  return out;
}

}  // namespace

Result<SearchPage> PgStore::Search(const User& me, const SearchQuery& q) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<Term> terms, ParseMatch(q.match));
  // $1..$9 fixed, the terms from $10.
  std::vector<PgParam> params = {me.id, q.before.value_or(INT64_MAX), q.room_id, q.from_user, q.limit + 1,
                                 kHeadlineOptions, kWholeOptions, kSnippetWords, int64_t{q.scan}};
  std::string query;
  for (const Term& t : terms) {
    params.emplace_back(t.text);
    // parley_search_words (migration 015): ASCII punctuation is a blank in
    // the terms as in the texts, so "example.com" asks for its two words.
    const std::string p =
        "phraseto_tsquery('parley_search', parley_search_words($" + std::to_string(params.size()) + "))";
    const std::string one =
        t.prefix ? "(CASE WHEN numnode(" + p + ") = 0 THEN " + p + " ELSE (" + p + "::text || ':*')::tsquery END)" : p;
    query += query.empty() ? one : " && " + one;
  }
  SearchHits hits;
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginRead());
  // One round trip: the access check of q's room, the newest q.scan
  // matches of every room (the bound on what a search reads), and the rooms
  // a second step would read (mine, when q names none). The query is
  // written out, not taken from a CTE, and planned for its words at every
  // search (plan_per_call), so that the planner estimates how many messages
  // it matches (a common term: walk the id index backwards; a rare one: the
  // GIN index). A generic plan knows no word: it walked the whole log back
  // for a word of one message (PgStorePlansTest).
  std::vector<PgConn::Stmt> first;
  if (q.room_id) first.push_back(AccessQuery(me.id, *q.room_id, false, nullptr));
  first.push_back(SearchStepQuery("messages m WHERE m.search @@ (" + query + ") AND m.id < $2", query, params));
  first.back().plan_per_call = true;
  if (!q.room_id) {
    first.push_back({"SELECT room_id FROM members WHERE user_id = $1 ORDER BY room_id LIMIT $2",
                     {me.id, static_cast<int64_t>(kSearchRoomsFirst + 1)}});
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, conn_.ExecTogether(first));
  if (q.room_id) {
    PARLEY_ASSIGN_OR_RETURN(PgResult access, std::move(rows[0]));
    PARLEY_RETURN_IF_ERROR(ReadAccess(access, true, false).status());
  }
  const size_t step = q.room_id ? 1 : 0;
  PARLEY_ASSIGN_OR_RETURN(SearchStepEnd end, ReadSearchStep(std::move(rows[step]), q.scan, hits));
  std::optional<int64_t> floor = end.oldest;
  if (SearchGoesOnInRooms(hits.size(), q, floor)) {
    std::vector<int64_t> rooms;
    if (q.room_id) {
      rooms.push_back(*q.room_id);
    } else {
      PARLEY_ASSIGN_OR_RETURN(PgResult mine, std::move(rows[step + 1]));
      if (mine.Rows() <= static_cast<int>(kSearchRoomsFirst)) {
        for (int i = 0; i < mine.Rows(); ++i) {
          PARLEY_ASSIGN_OR_RETURN(int64_t id, mine.Int(i, 0));
          rooms.push_back(id);
        }
      }
    }
    if (!rooms.empty()) {
      PARLEY_ASSIGN_OR_RETURN(floor, SearchInRooms(rooms, *floor, query, std::move(params), q.scan, hits));
    }
  }
  // Every hit exists: the snapshot that found it is still open. The page's
  // details ride with its COMMIT.
  return SearchPageOf(std::move(hits), q.limit, floor, [&](const std::vector<int64_t>& ids) -> Result<std::vector<Message>> {
    PARLEY_ASSIGN_OR_RETURN(std::vector<Message> out, LoadMessages(ids));
    DetailReads details(out, MessageDetailQueries(me.id));
    PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> detail_rows, tx->CommitAfter(details.statements()));
    PARLEY_RETURN_IF_ERROR(details.Fill(detail_rows));
    return out;
  });
}

Result<std::optional<int64_t>> PgStore::SearchInRooms(const std::vector<int64_t>& rooms, int64_t below,
                                                     const std::string& query, std::vector<PgParam> params, int scan,
                                                     SearchHits& hits) {
  std::string list;
  for (int64_t r : rooms) list += (list.empty() ? "{" : ",") + std::to_string(r);
  list += "}";
  params[1] = below;  // $2: below where the first step stopped
  params.emplace_back(list);
  const std::string rooms_at = "$" + std::to_string(params.size());
  params.emplace_back(int64_t{SearchRoomShare(scan, rooms.size()) - 1});
  const std::string offset_at = "$" + std::to_string(params.size());
  // The floor: each room's share-th newest message below, walking its
  // (room_id, id) index back from there (KeyRange: a bitmap of every row of
  // the room below and a sort was the planner's choice for a plain
  // `room_id = j.room`); the highest of them, none when no room holds its
  // share (the window then reaches every room's first message).
  const std::string with =
      "f AS MATERIALIZED (SELECT MAX((SELECT m.id FROM messages m WHERE " +
      KeyRange("m.room_id", "m.id", "j.room", "0", "$2::bigint - 1") + " ORDER BY m.room_id DESC, m.id DESC OFFSET " +
      offset_at + " LIMIT 1)) AS floor FROM unnest(" + rooms_at + "::bigint[]) AS j(room)), ";
  // Then the rooms' messages of the window (floor, $2) by their (room_id,
  // id) index (a KeyRange a room, which the planner cannot walk the primary
  // key for), at most about `scan`, each tested against the query. OFFSET
  // 0 keeps the planner from folding the test into the scan: left to
  // itself it took the GIN index's every match of a common word (40,000
  // rows read where the window held 2,500: PgStorePlansTest).
  const std::string source = "(SELECT m.id, m.room_id, m.user_id, m.deleted, m.search FROM unnest(" + rooms_at +
                             "::bigint[]) AS j(room) CROSS JOIN LATERAL (SELECT * FROM messages m WHERE " +
                             KeyRange("m.room_id", "m.id", "j.room", "(SELECT COALESCE(floor, 0) FROM f)",
                                      "$2::bigint - 1") +
                             ") m OFFSET 0) m WHERE m.search @@ (" + query + ")";
  const PgConn::Stmt step = SearchStepQuery(source, query, std::move(params), with);
  PARLEY_ASSIGN_OR_RETURN(SearchStepEnd end, ReadSearchStep(conn_.Exec(step.sql, step.params), scan, hits));
  return end.floor;
}

PgConn::Stmt PgStore::SearchStepQuery(const std::string& source, const std::string& query, std::vector<PgParam> params,
                                      const std::string& with) {
  // w: at most $9 of the matches, newest first, whether or not I may see
  // them; then the page among them. One row at least, for the window's size
  // (and f's floor, when `with` makes one).
  return {"WITH " + with +
              "w AS MATERIALIZED (SELECT m.id, m.room_id, m.user_id, m.deleted "
              "FROM " + source + " ORDER BY m.id DESC LIMIT $9), "
              "page AS (SELECT w.id FROM w JOIN members mb ON mb.room_id = w.room_id AND mb.user_id = $1 "
              "WHERE w.deleted = 0 AND ($3::bigint IS NULL OR w.room_id = $3) AND ($4::bigint IS NULL OR w.user_id = $4) "
              "ORDER BY w.id DESC LIMIT $5) "
              "SELECT n.read, n.oldest, p.id, CASE WHEN p.id IS NULL THEN NULL "
              "WHEN (SELECT COUNT(*) FROM ts_parse('default', p.words) t WHERE t.tokid <> 12) <= $8 "
              "THEN ts_headline('parley_search', p.words, s.query, $7) "
              "ELSE ts_headline('parley_search', p.words, s.query, $6) END, " +
              (with.empty() ? "NULL::bigint" : "(SELECT floor FROM f)") +
              ", p.text FROM (SELECT COUNT(*) AS read, MIN(id) AS oldest FROM w) n CROSS JOIN (SELECT " + query +
              " AS query) s LEFT JOIN (SELECT m.id, m.text, parley_search_words(m.text) AS words "
              "FROM page JOIN messages m ON m.id = page.id) p ON true ORDER BY p.id DESC",
          std::move(params)};
}

Result<PgStore::SearchStepEnd> PgStore::ReadSearchStep(Result<PgResult> r, int scan, SearchHits& hits) {
  if (!r.ok()) {
    if (r.status().code() == Code::kInternal) {
      return Status::Invalid("invalid_query", "the search terms could not be understood");
    }
    return r.status();
  }
  for (int i = 0; i < r->Rows(); ++i) {
    if (r->IsNull(i, 2)) continue;
    PARLEY_ASSIGN_OR_RETURN(int64_t id, r->Int(i, 2));
    hits.emplace_back(id, SnippetAsWritten(r->Text(i, 5), r->Text(i, 3)));
  }
  SearchStepEnd end;
  end.floor = r->OptionalInt(0, 4);
  PARLEY_ASSIGN_OR_RETURN(int64_t read, r->Int(0, 0));
  if (read < scan) return end;
  PARLEY_ASSIGN_OR_RETURN(int64_t oldest, r->Int(0, 1));
  end.oldest = oldest;
  return end;
}

}  // namespace parley::pg
