// Store: full-text search over the rooms a user is a member of now
// (issue 12, DESIGN section 3.2), on the FTS5 table of migration 006.
//
// What a search sees is always the messages as committed: deleted text is
// never found and edited text is found as it now reads. A message reaches
// the FTS5 index in a commit that sends: once a connection has sent
// kIndexEveryRows messages since its last indexing commit, that commit
// indexes every message waiting in messages_fts_pending (migration 009's
// table), in one FTS5 statement (one new segment). Until then a message
// waits there, and each search also looks through that tail: it copies the
// waiting messages it could find into a temporary FTS5 table of its own
// connection (same tokenizer) and runs the same query on both. Edits and
// deletes of indexed messages update the index in their own transaction
// (the triggers of 009); of waiting ones, the text copied is the text they
// then have.
//
// Why not index in every commit, as 009 did: FTS5's cost per message falls
// with the size of the segment it writes (fewer, larger segments to merge
// later). In process, 200,000 messages indexed, commits of 30 sends
// (tools/bench/sendcost index mode): 41,000 instructions per send in
// segments of 256, 267,000 when each commit indexed its own. A search pays
// for it: it copies and tokenizes at most kIndexEveryRows - 1 messages per
// sending connection (one writer per worker process); with 510 waiting in
// the searcher's rooms, 2-3 ms of CPU per search (tools/bench/conversations).
//
// The caller passes a MATCH expression made only of quoted terms
// (fcgi/search_query.cc), so user input cannot reach FTS5's query syntax;
// any FTS5 error is still reported as invalid_query, never as an internal
// error.
//
// Cost: FTS5 yields matching rowids newest first (ORDER BY rowid DESC is
// answered by the index itself); each is checked against my membership by
// primary key until the page is full, or until SearchQuery::scan matches
// are read: a term common in rooms I am not in cost a walk over all their
// matches (280 ms over a million, for a reader of one quiet room:
// tools/bench/searchwalk); now at most 10,000, and the page says where the
// next one starts. When that left the page short, a reader in a few rooms
// reads on in their own rooms' matches (SearchGoesOnInRooms, store_rules.h):
// migration 014 put each message's room in the index, so FTS5 steps through
// the word's doclist and the rooms' together (`text : (…) AND room_id :
// ("12" OR "40")`), within a window of at most about `scan` of the rooms'
// messages. The text terms are always confined to the text column: a search
// for "12" must not find room 12.

#include "schema/store.h"
#include "schema/store_rules.h"

namespace parley {

// What an indexing commit runs before COMMIT (Db::SetBeforeCommit): the
// waiting messages into messages_fts in one statement. ORDER BY: FTS5
// appends rowids in ascending order most cheaply. Only a connection that
// notes messages for the index counts towards it: one that sends nothing
// (the events daemon's, a login's) pays no statement per commit.
void Store::IndexEvery(int64_t rows) {
  db_.SetBeforeCommit(
      {
          "INSERT INTO messages_fts(rowid, text, room_id) "
          "SELECT m.id, m.text, m.room_id FROM messages_fts_pending p JOIN messages m ON m.id = p.id ORDER BY p.id",
          "DELETE FROM messages_fts_pending",
      },
      "messages_fts_pending", rows);
}

Status Store::IndexWaiting() {
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db_, Transaction::Mode::kWrite));
  PARLEY_RETURN_IF_ERROR(db_.RunBeforeCommit());
  return tx->Commit();
}

Status Store::MaintainIfDue() {
  PARLEY_RETURN_IF_ERROR(db_.CheckpointIfDue());
  return MergeIndexIfDue();
}

// Migration 011: the commits that index no longer merge segments as they go
// (automerge 0) but only when a level holds crisismerge of them, 64 at once,
// so each row is rewritten fewer times than in steps of 16. This step, at a
// quiet point (after a batch's answers are out, as the WAL checkpoint),
// merges a level of usermerge (16) segments or more, kMergePages pages at
// most, once every kMergeEveryCommits indexing commits: an index that grows
// slowly is tidied without adding to a busy one's cost. Counting commits,
// not time, makes its cost the same in every run of tools/bench/sendcost.
// A positive N merges nothing when no level holds 16 segments.
Status Store::MergeIndexIfDue() {
  if (db_.before_commits() - merged_at_ < kMergeEveryCommits) return Status::Ok();
  merged_at_ = db_.before_commits();
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db_, Transaction::Mode::kWrite));
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("INSERT INTO messages_fts(messages_fts, rank) VALUES ('merge', ?)"));
  s.Bind(1, kMergePages);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return tx->Commit();
}

Status Store::LoadSearchTail(const User& me, const SearchQuery& q) {
  // The tokenizer of messages_fts (migration 008): the same words match.
  // External content (search_tail_text), so 'delete-all' empties it at once.
  for (const char* sql : {
           "CREATE TEMP TABLE IF NOT EXISTS search_tail_text (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
           "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_tail USING fts5(text, content = 'search_tail_text', "
           "content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2')",
           "INSERT INTO search_tail(search_tail) VALUES ('delete-all')",
           "DELETE FROM search_tail_text",
       }) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.PrepareTempWrite(sql));
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  // Only what this search could return: my rooms, its filters, not deleted.
  // CROSS JOIN keeps the waiting rows (a few hundred) in the lead: left to
  // itself the planner walked every message of my rooms (a bench user in
  // 50 rooms of 1,000 messages each: 20-29 ms, against 0.3 ms).
  PARLEY_ASSIGN_OR_RETURN(Statement copy, db_.PrepareTempWrite(
      "INSERT INTO search_tail_text (id, text) SELECT m.id, m.text FROM messages_fts_pending p "
      "CROSS JOIN messages m ON m.id = p.id CROSS JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = ?1 "
      "WHERE m.deleted = 0 AND m.id < ?2 AND (?3 IS NULL OR m.room_id = ?3) AND (?4 IS NULL OR m.user_id = ?4)"));
  copy.Bind(1, me.id).Bind(2, q.before.value_or(INT64_MAX)).Bind(3, q.room_id).Bind(4, q.from_user);
  PARLEY_RETURN_IF_ERROR(copy.Exec());
  PARLEY_ASSIGN_OR_RETURN(Statement index,
                          db_.PrepareTempWrite("INSERT INTO search_tail(rowid, text) SELECT id, text FROM search_tail_text"));
  return index.Exec();
}

Result<std::optional<int64_t>> Store::CollectHits(const char* table, const std::string& match, const SearchWindow& w,
                                                   const User& me, const SearchQuery& q, SearchHits& hits) {
  const std::string t = table;
  const std::string visible =
      "(m.deleted = 0 AND mb.user_id IS NOT NULL AND (?4 IS NULL OR m.room_id = ?4) AND (?5 IS NULL OR m.user_id = ?5))";
  // Every match in the order FTS5 yields it (rowid, newest first: no sort),
  // whether or not I may see it, so that LIMIT bounds the matches read; the
  // LEFT JOINs keep the FTS5 table the outer loop. A snippet only for a hit,
  // so a hit is a row with one.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT " + t + ".rowid, CASE WHEN " + visible + " THEN snippet(" + t + ", 0, char(2), char(3), '…', 16) END "
      "FROM " + t + " LEFT JOIN messages m ON m.id = " + t + ".rowid "
      "LEFT JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = ?2 "
      "WHERE " + t + " MATCH ?1 AND " + t + ".rowid < ?3 AND " + t + ".rowid >= ?7 ORDER BY " + t + ".rowid DESC LIMIT ?6"));
  s.Bind(1, match).Bind(2, me.id).Bind(3, w.below).Bind(4, q.room_id);
  s.Bind(5, q.from_user).Bind(6, int64_t{w.scan}).Bind(7, w.from);
  int read = 0;
  int64_t oldest = 0;
  for (int found = 0; found <= q.limit;) {
    Result<bool> row = s.Step();
    if (!row.ok()) {
      if (row.status().code() == Code::kInternal) {
        return Status::Invalid("invalid_query", "the search terms could not be understood");
      }
      return row.status();
    }
    if (!*row) break;
    ++read;
    oldest = s.Int(0);
    if (!s.IsNull(1)) {
      hits.emplace_back(oldest, s.Text(1));
      ++found;
    }
  }
  if (read == w.scan) return std::optional<int64_t>(oldest);
  return std::optional<int64_t>();
}

Result<std::vector<int64_t>> Store::SearchRooms(const User& me, const SearchQuery& q) {
  if (q.room_id) return std::vector<int64_t>{*q.room_id};
  PARLEY_ASSIGN_OR_RETURN(Statement s,
                          db_.Prepare("SELECT room_id FROM members WHERE user_id = ? ORDER BY room_id LIMIT ?"));
  s.Bind(1, me.id).Bind(2, static_cast<int64_t>(kSearchRoomsFirst + 1));
  std::vector<int64_t> rooms;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    rooms.push_back(s.Int(0));
  }
  if (rooms.size() > kSearchRoomsFirst) rooms.clear();
  return rooms;
}

Result<std::optional<int64_t>> Store::SearchRoomsFloor(const std::string& rooms, int64_t below, int share) {
  // Each room's share-th newest message below `below`, by its (room_id, id)
  // index; the highest of them.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT MAX((SELECT m.id FROM messages m WHERE m.room_id = j.value AND m.id < ?2 ORDER BY m.id DESC "
      "LIMIT 1 OFFSET ?3)) FROM json_each('[' || ?1 || ']') j"));
  s.Bind(1, rooms).Bind(2, below).Bind(3, int64_t{share - 1});
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(s.Int(0));
}

Result<SearchPage> Store::Search(const User& me, const SearchQuery& q) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db_, Transaction::Mode::kRead));
  if (q.room_id) PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, *q.room_id, true).status());
  // The tail first, in the same snapshot as the index: a message is in
  // exactly one of them.
  PARLEY_RETURN_IF_ERROR(LoadSearchTail(me, q));
  const std::string text = "text : (" + q.match + ")";
  const int64_t below = q.before.value_or(INT64_MAX);
  SearchHits hits;
  // The tail is at most a few hundred messages: read whole.
  PARLEY_RETURN_IF_ERROR(CollectHits("search_tail", text, SearchWindow{below, 0, -1}, me, q, hits).status());
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> floor,
                          CollectHits("messages_fts", text, SearchWindow{below, 0, q.scan}, me, q, hits));
  if (SearchGoesOnInRooms(hits.size(), q, floor)) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> rooms, SearchRooms(me, q));
    if (!rooms.empty()) {
      std::string list, terms;
      for (int64_t r : rooms) {
        list += (list.empty() ? "" : ",") + std::to_string(r);
        terms += (terms.empty() ? "\"" : " OR \"") + std::to_string(r) + "\"";
      }
      const int64_t above = *floor;
      PARLEY_ASSIGN_OR_RETURN(floor, SearchRoomsFloor(list, above, SearchRoomShare(q.scan, rooms.size())));
      PARLEY_RETURN_IF_ERROR(CollectHits("messages_fts", text + " AND room_id : (" + terms + ")",
                                         SearchWindow{above, floor.value_or(0), -1}, me, q, hits)
                                 .status());
    }
  }
  // Every hit exists: the read transaction that found it is still open.
  PARLEY_ASSIGN_OR_RETURN(SearchPage page, SearchPageOf(std::move(hits), q.limit, floor, [&](const std::vector<int64_t>& ids) {
                            return LoadMessages(ids, me.id);
                          }));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return page;
}

}  // namespace parley
