#include "schema/pg/notify.h"

#include "schema/wakeup.h"

#include <libpq-fe.h>

#include <cstring>

#include "schema/log.h"

namespace parley::pg {

namespace {

struct PgNotifyFreer {
  void operator()(PGnotify* n) const { PQfreemem(n); }
};

// LISTEN takes an identifier, not a parameter; ours are plain names, so
// quoting them is never needed and anything else is refused.
bool PlainName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;  // NAMEDATALEN - 1
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// What the server says to an idle connection (its goodbye before a
// restart: "terminating connection due to administrator command") reaches
// libpq as a notice, which it would print to stderr; it goes to our log.
void LogNotice(void*, const char* message) {
  size_t n = std::strlen(message);
  while (n > 0 && message[n - 1] == '\n') --n;
  LOG_WARN("PostgreSQL listener: %.*s", static_cast<int>(n), message);
}

}  // namespace

namespace {

Status Notify(PgConn& conn, std::string_view channel, std::string_view payload) {
  if (payload.size() > kMaxPayloadBytes) {
    return Status(Code::kTooLarge, "payload_too_large",
                  "a notification carries at most " + std::to_string(kMaxPayloadBytes) + " bytes, not " +
                      std::to_string(payload.size()));
  }
  // Always inside a transaction, whose COMMIT delivers it: it can wait for
  // the COMMIT's round trip (PgConn::Defer).
  return conn.Defer("SELECT pg_notify($1, $2)", {channel, payload});
}

}  // namespace

Status Notify(PgTx& tx, std::string_view channel, std::string_view payload) {
  return Notify(tx.conn(), channel, payload);
}

Status NotifyHead(PgTx& tx, std::string_view channel, int64_t head) { return NotifyHead(tx.conn(), channel, head); }

Status NotifyHead(PgConn& conn, std::string_view channel, int64_t head) {
  return Notify(conn, channel, EncodeHead(head));
}

Result<std::string> EventsChannel(PgConn& conn) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT current_schema(), left(md5(current_schema()), 16)"));
  if (r.Rows() != 1 || r.IsNull(0, 0)) {
    return Status::Internal("no current schema: the search_path names no schema that exists");
  }
  if (r.Text(0, 0) == "public") return std::string(kEventsChannel);
  return std::string(kEventsChannel) + "_" + r.Text(0, 1);
}

Result<std::string> EventsChannel(const std::string& url) {
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url));
  return EventsChannel(*conn);
}

Result<std::unique_ptr<Listener>> Listener::Open(const std::string& url, std::vector<std::string> channels) {
  for (const std::string& c : channels) {
    if (!PlainName(c)) return Status::Invalid("invalid_channel", "not a plain channel name: '" + c + "'");
  }
  std::unique_ptr<Listener> l(new Listener(url, std::move(channels)));
  PARLEY_RETURN_IF_ERROR(l->Connect());
  return l;
}

Status Listener::Connect() {
  conn_.reset();
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url_));
  PQsetNoticeProcessor(conn->raw(), &LogNotice, nullptr);
  for (const std::string& c : channels_) PARLEY_RETURN_IF_ERROR(conn->ExecScript("LISTEN " + c));
  // Non-blocking from here: Drain() must never wait on the socket.
  if (PQsetnonblocking(conn->raw(), 1) != 0) return Status::Internal("PQsetnonblocking failed");
  conn_ = std::move(conn);
  return Status::Ok();
}

int Listener::fd() const { return conn_ && conn_->ok() ? PQsocket(conn_->raw()) : -1; }

void Listener::Collect(std::vector<Notification>& out) {
  while (std::unique_ptr<PGnotify, PgNotifyFreer> n{PQnotifies(conn_->raw())}) {
    out.push_back(Notification{n->relname, n->extra ? n->extra : "", n->be_pid});
  }
}

Result<Drained> Listener::Drain() {
  Drained d;
  if (conn_ && conn_->ok() && PQconsumeInput(conn_->raw()) == 1) {
    Collect(d.notifications);
    return d;
  }
  // Lost (EOF on the socket: the server restarted or the link broke).
  // What arrived before the loss was consumed with it and is still queued.
  if (conn_) Collect(d.notifications);
  PARLEY_RETURN_IF_ERROR(Connect());
  d.reconnected = true;
  return d;
}

}  // namespace parley::pg
