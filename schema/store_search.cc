// Store: full-text search over the rooms a user is a member of now
// (issue 12, DESIGN section 3.2), on the FTS5 table of migration 006.
//
// The FTS5 index is kept current inside the transaction that sends, edits
// or deletes (a send's message is indexed just before that transaction's
// COMMIT, with every other send of the commit: migration 009), so deleted
// text is never found and edited text is found as it now reads. The caller passes a MATCH expression made only
// of quoted terms (fcgi/search_query.cc), so user input cannot reach FTS5's
// query syntax; any FTS5 error is still reported as invalid_query, never as
// an internal error.
//
// Cost: FTS5 yields matching rowids newest first (ORDER BY rowid DESC is
// answered by the index itself); each is checked against my membership by
// primary key until the page is full. A term common in rooms I am not in
// costs a walk over those matches; tools/bench/search measures it.
#include "schema/store.h"
#include "schema/store_rules.h"

namespace parley {

// Migration 009: what a commit runs before COMMIT so that the messages it
// sends are indexed by it, in one FTS5 statement (one new segment) for the
// whole commit rather than one per send. ORDER BY: FTS5 appends rowids in
// ascending order most cheaply. Only commits that noted a message for the
// index run it: a connection that sends nothing (the events daemon's, a
// login's) pays no statement per commit.
void Store::IndexPendingAtCommit() {
  db_.SetBeforeCommit(
      {
          "INSERT INTO messages_fts(rowid, text) "
          "SELECT m.id, m.text FROM messages_fts_pending p JOIN messages m ON m.id = p.id ORDER BY p.id",
          "DELETE FROM messages_fts_pending",
      },
      "messages_fts_pending");
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

Result<SearchPage> Store::Search(const User& me, const SearchQuery& q) {
  SearchHits hits;
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db_, Transaction::Mode::kRead));
  if (q.room_id) PARLEY_RETURN_IF_ERROR(LoadAccess(me.id, *q.room_id, true).status());
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT f.rowid, snippet(messages_fts, 0, char(2), char(3), '…', 16) "
        "FROM messages_fts f JOIN messages m ON m.id = f.rowid "
        "JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = ?2 "
        "WHERE messages_fts MATCH ?1 AND f.rowid < ?3 AND m.deleted = 0 "
        "AND (?4 IS NULL OR m.room_id = ?4) AND (?5 IS NULL OR m.user_id = ?5) "
        "ORDER BY f.rowid DESC LIMIT ?6"));
    s.Bind(1, q.match).Bind(2, me.id).Bind(3, q.before.value_or(INT64_MAX)).Bind(4, q.room_id);
    s.Bind(5, q.from_user).Bind(6, q.limit + 1);
    for (;;) {
      Result<bool> row = s.Step();
      if (!row.ok()) {
        if (row.status().code() == Code::kInternal) {
          return Status::Invalid("invalid_query", "the search terms could not be understood");
        }
        return row.status();
      }
      if (!*row) break;
      hits.emplace_back(s.Int(0), s.Text(1));
    }
  }
  // Every hit exists: the read transaction that found it is still open.
  PARLEY_ASSIGN_OR_RETURN(SearchPage page, SearchPageOf(std::move(hits), q.limit, [&](const std::vector<int64_t>& ids) {
                            return LoadMessages(ids, me.id);
                          }));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return page;
}

}  // namespace parley
