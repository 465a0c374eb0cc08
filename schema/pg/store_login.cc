// PgStore: login throttling, per account and client address, and per
// address (account ''), with SQLite's rules (schema/store_login.cc).
//
// Design note. Pools on several hosts count attempts at once, and SQLite's
// single writer is what made its read-decide-increment atomic. Here each of
// the two rows is taken by one INSERT ... ON CONFLICT DO UPDATE ...
// RETURNING: it creates a missing row or locks the existing one, and
// returns its committed values, so the row stays locked from the read to
// the COMMIT of the increment. Of 40 parallel guesses on any number of
// connections exactly login_failures get through. The rows are always
// taken in the same order (the account's, then the address's), so two
// attempts never wait for each other in a cycle. A refused attempt rolls
// back, taking with it a row it created.
#include "schema/login_rules.h"
#include "schema/pg/store.h"

namespace parley::pg {

Status PgStore::BeginLogin(const std::string& username, const std::string& address) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  // The clock is read once each row is locked, as SQLite's store reads it
  // under the writer lock: an attempt that waited for another's lock must
  // not judge that other's fresh block from before it began, which made its
  // Retry-After one second longer than the backoff (16 s for 15).
  int64_t now = 0;
  std::array<LoginRow, 2> rows = LoginRows(username, limits_);
  for (LoginRow& r : rows) {
    // A new row starts forgotten (last_ts 0); the no-op update locks an old one.
    PARLEY_ASSIGN_OR_RETURN(
        PgResult s, conn_.Exec("INSERT INTO login_throttle (account, address, failures, last_ts, blocked_until) "
                               "VALUES ($1, $2, 0, 0, 0) ON CONFLICT (lower(account), address) "
                               "DO UPDATE SET failures = login_throttle.failures "
                               "RETURNING failures, last_ts, blocked_until",
                               {r.account, address}));
    PARLEY_ASSIGN_OR_RETURN(int64_t failures, s.Int(0, 0));
    PARLEY_ASSIGN_OR_RETURN(int64_t last_ts, s.Int(0, 1));
    PARLEY_ASSIGN_OR_RETURN(int64_t blocked_until, s.Int(0, 2));
    now = NowMs();
    Status read = r.Read(limits_, failures, last_ts, blocked_until, now);
    if (read.ok()) continue;
    if (r.rebased_until) {
      // Refused, but the block rebased to the clock is kept (LoginRow).
      PARLEY_RETURN_IF_ERROR(conn_
                                 .Exec("UPDATE login_throttle SET last_ts = $3, blocked_until = $4 "
                                       "WHERE lower(account) = lower($1) AND address = $2",
                                       {r.account, address, now, *r.rebased_until})
                                 .status());
      PARLEY_RETURN_IF_ERROR(tx->Commit());
    }
    return read;
  }
  for (const LoginRow& r : rows) {
    int64_t failures = r.failures + 1;
    int64_t blocked_until = LoginBlockedUntil(limits_, failures, r.limit, now);
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec("UPDATE login_throttle SET failures = $3, last_ts = $4, blocked_until = $5 "
                                     "WHERE lower(account) = lower($1) AND address = $2",
                                     {r.account, address, failures, now, blocked_until})
                               .status());
  }
  // Forgotten rows go a few at a time, so the table stays the size of the
  // recent attempts without a sweeper; rows another attempt holds are
  // left for a later one rather than waited for.
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("DELETE FROM login_throttle WHERE ctid IN (SELECT ctid FROM login_throttle "
                                   "WHERE last_ts < $1 AND blocked_until < $2 LIMIT 8 FOR UPDATE SKIP LOCKED)",
                                   {now - limits_.login_window_ms, now})
                             .status());
  return tx->Commit();
}

Status PgStore::LoginSucceeded(const std::string& username, const std::string& address) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(
      conn_.Exec("DELETE FROM login_throttle WHERE lower(account) = lower($1) AND address = $2", {username, address})
          .status());
  // The attempt was counted as a failure of the address in advance.
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("UPDATE login_throttle SET failures = GREATEST(0, failures - 1) "
                                   "WHERE account = '' AND address = $1",
                                   {address})
                             .status());
  return tx->Commit();
}

}  // namespace parley::pg
