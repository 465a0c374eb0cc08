// Wake-ups across hosts on PostgreSQL (issue 10 item 3, DESIGN §7):
// LISTEN/NOTIFY instead of SQLite's datagram to the one local daemon.
//
// Sending. NotifyHead() runs `SELECT pg_notify(...)` inside the appending
// transaction: PostgreSQL queues the notification and delivers it only at
// COMMIT, after the rows are visible to every other connection, and drops
// it on ROLLBACK. So a listener that reads `id > cursor` on a wake-up always
// finds the events it was woken for, and an append that failed wakes no one.
//
// Receiving. A Listener owns its own connection (LISTEN is per connection,
// and a connection busy with queries would delay notifications). Its fd()
// is for a libevent read event; Drain() reads what arrived without
// blocking (PQconsumeInput, PQnotifies). When the server restarts, it says
// goodbye and closes the socket; the Drain() that reads the EOF (the one
// after the goodbye's, or the same) finds the connection dead, connects and
// LISTENs again, and says so (reconnected), because notifications sent while
// it was away are lost and the socket, hence fd(), is a new one.
//
// Why a periodic head check stays as the safety net: notifications are
// hints, and some are lost: those sent while a listener is disconnected
// (a server restart, a cut link, until its reconnect succeeds) or before a
// new daemon's LISTEN. The reader's cursor against the committed head
// (event_counter) is the truth, so a lost notification costs the delay
// until the next check, never an event.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "schema/pg/conn.h"

namespace parley::pg {

// The channel on which appends announce the new head, in the schema
// "public"; EventsChannel() names it for the connection's schema.
inline constexpr const char* kEventsChannel = "parley_events";
// PostgreSQL refuses a payload of 8000 bytes or more (in the server's
// encoding; we count bytes of UTF-8, which is what it receives).
inline constexpr size_t kMaxPayloadBytes = 7999;

// Queues `payload` on `channel` in tx, delivered at its COMMIT. A payload
// over kMaxPayloadBytes is kTooLarge (payload_too_large), before anything
// is sent; one with a NUL byte kInvalid.
Status Notify(PgTx& tx, std::string_view channel, std::string_view payload);
// The events channel of the schema conn works in (its search_path's
// first): kEventsChannel in "public", else kEventsChannel + "_" + 16 hex
// digits of the schema name's md5. NOTIFY is per database, not per schema,
// so two deployments in two schemas of one database (or two tests running
// at once) would otherwise wake each other's daemons and show presence to
// each other's users, whose ids overlap.
Result<std::string> EventsChannel(PgConn& conn);
// The same on a connection of its own, closed after (a daemon's listener).
Result<std::string> EventsChannel(const std::string& url);

// The wake-up of an append: the new head on the events channel, as SQLite's
// datagram says it (schema/wakeup.h's EncodeHead), so a daemon decodes
// every payload of the channel with DecodeWakeup (typing and receipts come
// the same way, PgStore::Announce).
Status NotifyHead(PgTx& tx, std::string_view channel, int64_t head);
// The same in conn's open transaction (a group-commit batch announces its
// highest id once, before its COMMIT, rather than once per write).
Status NotifyHead(PgConn& conn, std::string_view channel, int64_t head);

struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;  // the backend that sent it (the sending connection's PQbackendPID)
};

struct Drained {
  std::vector<Notification> notifications;  // in the order the server sent them
  // The connection was lost and is back: anything sent meanwhile is gone
  // (check the head), and fd() changed (register it again).
  bool reconnected = false;
};

class Listener {
 public:
  // Connects and LISTENs on each channel (names of our own: lowercase letters, digits
  // and '_' only, else kInvalid).
  static Result<std::unique_ptr<Listener>> Open(const std::string& url, std::vector<std::string> channels);

  // The connection's socket, readable when notifications (or EOF) arrive;
  // -1 while disconnected.
  int fd() const;
  // Everything that arrived, without blocking. On a lost connection, one
  // attempt to connect again (bounded by PgConn::kConnectTimeoutS): if the
  // server is still away, kUnavailable (check the head: what arrived meanwhile
  // is gone), and the next Drain() tries again.
  Result<Drained> Drain();

 private:
  Listener(std::string url, std::vector<std::string> channels) : url_(std::move(url)), channels_(std::move(channels)) {}
  Status Connect();
  void Collect(std::vector<Notification>& out);

  std::string url_;
  std::vector<std::string> channels_;
  std::unique_ptr<PgConn> conn_;
};

}  // namespace parley::pg
