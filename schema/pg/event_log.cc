#include "schema/pg/event_log.h"

#include <algorithm>
#include <string>

namespace parley::pg {

namespace {

constexpr int kColumns = 7;
// PostgreSQL takes at most 65535 parameters per statement.
constexpr size_t kRowsPerInsert = 65535 / kColumns;

// One multi-row INSERT of events[0, n): ($1..$7), ($8..$14), ...
Status InsertRows(PgConn& conn, std::span<const Event> events) {
  std::string sql = "INSERT INTO events (id, ts, type, room_id, target_id, audience, data) VALUES ";
  std::vector<PgParam> params;
  params.reserve(events.size() * kColumns);
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    sql += i == 0 ? "(" : ", (";
    for (int c = 1; c <= kColumns; ++c) {
      sql += "$" + std::to_string(i * kColumns + c);
      sql += c < kColumns ? ", " : ")";
    }
    params.insert(params.end(), {e.id, e.ts, e.type, e.room_id, e.target_id, ToString(e.audience), e.data});
  }
  return conn.Exec(sql, params).status();
}

// The last of n ids: from the batch's run, or from the counter row, whose
// lock this transaction then holds to its COMMIT.
Result<int64_t> TakeIds(PgConn& conn, int64_t n) {
  std::optional<PgConn::IdRun>& run = conn.id_run();
  if (run) return run->last += n;
  PARLEY_ASSIGN_OR_RETURN(PgResult row,
                          conn.Exec("UPDATE event_counter SET last = last + $1 RETURNING last", {n}));
  if (row.Rows() != 1) return Status::Internal("event_counter has no row (migration 001 not applied?)");
  PARLEY_ASSIGN_OR_RETURN(int64_t last, row.Int(0, 0));
  TookId(conn, last);
  return last;
}

}  // namespace

std::optional<int64_t> NextBatchId(PgConn& conn) {
  std::optional<PgConn::IdRun>& run = conn.id_run();
  if (!run) return std::nullopt;
  return ++run->last;
}

void TookId(PgConn& conn, int64_t id) {
  // With a run already, the id was the run's (NextBatchId).
  if (conn.in_batch() && !conn.id_run()) conn.id_run() = PgConn::IdRun{id, id};
}

Status FinishIds(PgConn& conn) {
  std::optional<PgConn::IdRun>& run = conn.id_run();
  if (!run || run->last == run->row) return Status::Ok();
  PARLEY_RETURN_IF_ERROR(conn.Defer("UPDATE event_counter SET last = $1", {run->last}));
  run->row = run->last;
  return Status::Ok();
}

Status AppendEvents(PgTx& tx, std::span<Event> events) {
  if (events.empty()) return Status::Ok();
  PgConn& conn = tx.conn();
  const int64_t n = static_cast<int64_t>(events.size());
  PARLEY_ASSIGN_OR_RETURN(int64_t last, TakeIds(conn, n));
  for (int64_t i = 0; i < n; ++i) events[i].id = last - n + 1 + i;
  for (size_t first = 0; first < events.size(); first += kRowsPerInsert) {
    size_t count = std::min(kRowsPerInsert, events.size() - first);
    PARLEY_RETURN_IF_ERROR(InsertRows(conn, events.subspan(first, count)));
  }
  return Status::Ok();
}

Result<std::vector<Event>> EventsFromRows(const PgResult& rows) {
  std::vector<Event> out;
  out.reserve(rows.Rows());
  for (int r = 0; r < rows.Rows(); ++r) {
    Event e;
    PARLEY_ASSIGN_OR_RETURN(e.id, rows.Int(r, 0));
    PARLEY_ASSIGN_OR_RETURN(e.ts, rows.Int(r, 1));
    e.type = rows.Text(r, 2);
    e.room_id = rows.OptionalInt(r, 3);
    e.target_id = rows.OptionalInt(r, 4);
    std::optional<Audience> audience = ParseAudience(rows.Text(r, 5));
    if (!audience) return Status::Internal("event " + std::to_string(e.id) + " has an unknown audience");
    e.audience = *audience;
    e.data = rows.Text(r, 6);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<Event>> ReadEventsAfter(PgConn& conn, int64_t after, int limit) {
  PARLEY_ASSIGN_OR_RETURN(PgResult rows, conn.Exec(std::string("SELECT ") + kEventColumns +
                                                       " FROM events WHERE id > $1 ORDER BY id LIMIT $2",
                                                   {after, limit}));
  return EventsFromRows(rows);
}

Result<int64_t> LastEventId(PgConn& conn) {
  PARLEY_ASSIGN_OR_RETURN(PgResult row, conn.Exec("SELECT last FROM event_counter"));
  if (row.Rows() != 1) return Status::Internal("event_counter has no row (migration 001 not applied?)");
  return row.Int(0, 0);
}

}  // namespace parley::pg
