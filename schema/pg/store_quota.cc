// PgStore: per-user write quotas, one token bucket per user and WriteClass
// (the arithmetic is schema/token_bucket.h's, shared with SQLite).
//
// The bucket row is locked (FOR UPDATE) from the read to the COMMIT of the
// write it guards: pools on several hosts write at once, and without the
// lock two of them could both spend the last token. A bucket seen for the
// first time is inserted full first, so there is always a row to lock.
#include "schema/pg/store.h"

namespace parley::pg {

PgConn::Stmt PgStore::BucketQuery(int64_t user_id, WriteClass c) {
  return {"SELECT tokens, updated_ts FROM write_quota WHERE user_id = $1 AND class = $2 FOR UPDATE",
          {user_id, ToString(c)}};
}

Status PgStore::ConsumeWriteToken(int64_t user_id, WriteClass c, Result<PgResult>* prefetched) {
  const Rate& rate = limits_.rate(c);
  if (rate.unlimited()) return Status::Ok();
  const int64_t now = NowMs();
  const std::string cls = ToString(c);
  // One round trip for a bucket that exists (every write of a user but
  // their first of a class), none when the caller read it already: the row
  // locked and read; the new value is queued (Defer) and rides with the
  // write's next statement or COMMIT, under the same lock. A refused
  // write's savepoint drops it unsent.
  auto locked = [&]() {
    const PgConn::Stmt query = BucketQuery(user_id, c);
    return conn_.Exec(query.sql, query.params);
  };
  PARLEY_ASSIGN_OR_RETURN(PgResult r, prefetched ? std::move(*prefetched) : locked());
  if (r.Rows() == 0) {
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec("INSERT INTO write_quota (user_id, class, tokens, updated_ts) "
                                     "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                     {user_id, cls, std::to_string(rate.burst), now})
                               .status());
    PARLEY_ASSIGN_OR_RETURN(r, locked());  // ours, or the one a concurrent write inserted first
  }
  std::optional<Bucket> prev;
  if (r.Rows() == 1) {
    PARLEY_ASSIGN_OR_RETURN(int64_t updated, r.Int(0, 1));
    prev = Bucket{std::stod(r.Text(0, 0)), updated};
  }
  Take t = TakeToken(prev, rate, now);
  if (!t.ok) return WriteThrottled(c, t.retry_after_ms);
  return conn_.Defer("UPDATE write_quota SET tokens = $3, updated_ts = $4 WHERE user_id = $1 AND class = $2",
                     {user_id, cls, std::to_string(t.next.tokens), t.next.updated_ms});
}

}  // namespace parley::pg
