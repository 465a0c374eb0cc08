// Store: login throttling, per account and client address, and per address.
//
// Design note. The count happens before the password is checked, in one
// BEGIN IMMEDIATE transaction that reads both rows, decides and increments:
// of 40 parallel guesses, SQLite's single writer lets exactly
// login_failures through, and the rest find the row blocked. A success
// deletes its (account, address) row and takes its attempt back from the
// address row. Rows are keyed by address as well as account, so failures
// from one address never lock the account for anyone else: the rightful
// owner signs in from their own address while the guesser's address waits
// longer after every failure (login_backoff_ms, doubling).
#include "schema/login_rules.h"
#include "schema/store.h"

namespace parley {

Status Store::BeginLogin(const std::string& username, const std::string& address) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  const int64_t now = NowMs();
  std::array<LoginRow, 2> rows = LoginRows(username, limits_);
  for (LoginRow& r : rows) {
    Status read;
    {
      PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
          "SELECT failures, last_ts, blocked_until FROM login_throttle WHERE account = ? AND address = ?"));
      s.Bind(1, r.account).Bind(2, address);
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) read = r.Read(limits_, s.Int(0), s.Int(1), s.Int(2), now);
    }
    if (read.ok()) continue;
    if (r.rebased_until) {
      // Refused, but the block rebased to the clock is kept (LoginRow).
      PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
          "UPDATE login_throttle SET last_ts = ?3, blocked_until = ?4 WHERE account = ?1 AND address = ?2"));
      s.Bind(1, r.account).Bind(2, address).Bind(3, now).Bind(4, *r.rebased_until);
      PARLEY_RETURN_IF_ERROR(s.Exec());
      PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
    }
    return read;
  }
  for (const LoginRow& r : rows) {
    int64_t failures = r.failures + 1;
    int64_t blocked_until = LoginBlockedUntil(limits_, failures, r.limit, now);
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO login_throttle(account, address, failures, last_ts, blocked_until) VALUES (?1,?2,?3,?4,?5) "
        "ON CONFLICT(account, address) DO UPDATE SET failures = ?3, last_ts = ?4, blocked_until = ?5"));
    s.Bind(1, r.account).Bind(2, address).Bind(3, failures).Bind(4, now).Bind(5, blocked_until);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  // Forgotten rows go a few at a time, so the table stays the size of the
  // recent attempts without a sweeper.
  PARLEY_ASSIGN_OR_RETURN(Statement prune, db_.Prepare(
      "DELETE FROM login_throttle WHERE (account, address) IN (SELECT account, address FROM login_throttle "
      "WHERE last_ts < ?1 AND blocked_until < ?2 LIMIT 8)"));
  prune.Bind(1, now - limits_.login_window_ms).Bind(2, now);
  PARLEY_RETURN_IF_ERROR(prune.Exec());
  return CommitWrite(*tx);
}

Status Store::LoginSucceeded(const std::string& username, const std::string& address) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "DELETE FROM login_throttle WHERE account = ? AND address = ?"));
    s.Bind(1, username).Bind(2, address);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  // The attempt was counted as a failure of the address in advance.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "UPDATE login_throttle SET failures = MAX(0, failures - 1) WHERE account = '' AND address = ?"));
  s.Bind(1, address);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return CommitWrite(*tx);
}

}  // namespace parley
