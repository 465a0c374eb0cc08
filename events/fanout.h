// Tailing the event log and fanning events out.
//
// Design note. The database is the only source of truth; Fanout keeps one
// cursor, head(), the last event id it has fanned out. A wake-up (a datagram
// from parley-fcgi, or PRAGMA data_version moving) schedules one read per
// loop turn of the events after head(), applies membership changes as they
// pass, and appends each event to the pending output of every connection
// that may see it; Conns flushes them all once at the end of the turn. Many
// events share one write under load, a lone event goes out at once. No timer
// batches anything.
// A resuming stream is replayed from the database, one bounded page at a
// time, up to head() and only then joins the live fan-out, so it sees every
// id once, in order, with no gap. Ephemeral events (typing, presence) reach
// only live streams and waiting polls: a replaying stream would only queue
// them behind its backlog.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/config.h"
#include "events/conns.h"
#include "schema/model.h"
#include "schema/storage.h"

namespace parley::events {

class Fanout {
 public:
  Fanout(event_base* base, const Config& cfg, Storage& store, Conns& conns, Stats& stats, int64_t head);

  int64_t head() const { return head_; }
  // Whether the log may hold what no wake-up announced: nothing has been
  // read since the start (events committed while the daemon started, before
  // its wake-ups were armed), or the last read failed.
  bool behind() const { return behind_; }
  // Coalesced: one read of the log per loop turn, however many wake-ups.
  void Wake();
  // Reads and dispatches now (shutdown delivers what is committed).
  void Pump();
  // Appends a replaying stream's next page; moves it to live at the head.
  // Returns how much of a page it used (PageUsed), for the pacer.
  double Replay(Conn& c);
  // The first page of an old-cursor poll, bounded in events and bytes.
  Status FillPoll(Conn& c, int64_t since);
  // An ephemeral event to the live streams and waiting polls of a room's
  // members (users == nullptr) or of the given users, except one user.
  void Ephemeral(const char* type, const std::string& data, int64_t room_id, int64_t except_user,
                 const std::vector<int64_t>* users);
  // A typing notice, merged per user and room: at most one fan-out per
  // typing_merge_ms, however often the client posts. head: the log's head
  // its sender read after checking membership (schema/wakeup.h). The notice
  // goes to the room once the log is fanned out up to there (ReadUpTo), so
  // a member a kick or a leave took out before the check no longer gets it.
  void Typing(int64_t room_id, const User& user, int64_t head);
  // A read marker moved: {"room_id","user","event_id"} to the room's other
  // members (the writer sends it only for rooms of at most 100 members),
  // after ReadUpTo(head) as a typing notice.
  void Receipt(int64_t room_id, const User& user, int64_t event_id, int64_t head);
  // Forgets typing entries older than the merge window (bounds the map);
  // now_ms is MonoMs() (events/clock.h).
  void PruneTyping(int64_t now_ms);
  // Called with a user id when sessions of theirs ended (deactivation or a
  // password change, after the connections are closed): server.cc drops
  // their cached sessions.
  std::function<void(int64_t)> on_sessions_ended;

 private:
  static void OnWake(int, short, void* self);
  // Pumps now until head() reaches `head` (a few batches at most); false,
  // counted in ephemeral_dropped, when the log cannot be read that far.
  bool ReadUpTo(int64_t head);
  void Dispatch(const Event& e);
  void ApplyMembership(const Event& e);
  // Closes every connection of a user whose account was deactivated, or
  // those whose session a password change ended.
  void ApplyAccount(const Event& e);
  void Deliver(Conn& c, const Event& e, const std::string& sse);
  // Adds one event to a poll's answer unless the page is full (in events or
  // bytes); returns false when it is.
  bool AddToPoll(Conn& c, int64_t id, const std::string& type, const std::string& data);
  // Feeds take() the events after `after` up to head() that c's user may
  // see, in id order, until take() says no (false) or all are read (true);
  // at most kPollMax rows per call.
  Result<bool> ReadVisible(const Conn& c, int64_t after, const std::function<bool(const Event&)>& take);

  const Config& cfg_;
  Storage& store_;
  Conns& conns_;
  Stats& stats_;
  int64_t head_;
  EventPtr wake_ev_;
  bool wake_pending_ = false;
  bool behind_ = true;
  std::unordered_map<std::string, int64_t> typing_at_;  // "user:room" -> last fan-out (MonoMs)
};

}  // namespace parley::events
