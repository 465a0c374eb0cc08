// Presence: who has a connection, announced to the people who share a small
// room with them (Config::presence_room_limit), with a grace period so that
// a page reload does not flap. Also remembers the {"id","username"} of
// connected users for the announcements.
//
// Who announces. With one daemon (SQLite), this one: a user's first
// connection here is their first anywhere. With several (PostgreSQL), the
// database decides whether a change was the user's first row anywhere or
// their last (Storage::SetOnline, and KeepPresence for a daemon that died),
// and announces it to every daemon through LISTEN/NOTIFY; each daemon,
// this one included, then tells its own connected peers (Tell). So a
// second daemon gaining a connection of an online user announces nothing,
// and no daemon says "offline" while another still holds the user.
//
// A daemon taken for dead that was not (silent past 5 s: stopped, or the
// database out of its reach) has had its rows dropped and its users
// announced offline by another. Its rows are written only at a user's
// first connection here, so KeepPresence, finding its mark gone, puts back
// those of Held() and announces online the users nobody else holds (the
// same wake-up a first connection sends): they are back within about a
// second of the daemon's next mark, not when their last connection closes.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/config.h"
#include "events/conns.h"
#include "events/fanout.h"
#include "schema/storage.h"

namespace parley::events {

class Presence {
 public:
  Presence(const Config& cfg, Storage& store, Conns& conns, Fanout& fanout)
      : cfg_(cfg), store_(store), conns_(conns), fanout_(fanout) {}

  // Before a connection of the user is held (Http::Admit): remembers the
  // user, and reads their rooms unless they are tracked already. The
  // fan-out delivers by those rooms, and a poll that times out is answered
  // with the head as its next, so a connection held without them would skip
  // every event it was never given: a failed read (the database restarting)
  // refuses the connection instead, and the client retries.
  Status Admit(const User& user);
  // The request admitted was answered without a connection (an error).
  void NotHeld(int64_t user_id);
  // Conns' hooks: a user's first connection opened, their last one closed.
  void Opened(int64_t user_id);
  void Closed(int64_t user_id);
  // Announces the users whose grace period has passed (the sweep, 1/s);
  // now_ms is MonoMs() (events/clock.h).
  void Tick(int64_t now_ms);
  // Shutdown: nobody is connected any more.
  void ClearAll();
  // The users this daemon has a presence row of when nothing was dropped
  // behind its back: from a user's first connection (Opened) to the end of
  // the grace after their last (Offline), adopted ones included. What
  // KeepPresence puts back after this daemon was taken for dead.
  std::vector<int64_t> Held() const;
  // An upgrade's new image: the users the image before it held (their rows
  // kept across the exec) are in their grace period, as if their last
  // connection had just closed. Those who reconnect in it were never
  // offline, so nobody hears of them; the others are announced offline.
  void Adopt(const std::vector<User>& held);
  // Tells this daemon's peers of the user that they came or went: a change
  // decided here (SQLite) or by the database (PostgreSQL: a presence
  // wake-up, from any daemon).
  void Tell(const User& user, bool online);

 private:
  void Offline(int64_t user_id);

  const Config& cfg_;
  Storage& store_;
  Conns& conns_;
  Fanout& fanout_;
  std::unordered_map<int64_t, int64_t> offline_at_;  // user -> when to announce offline (MonoMs)
  std::unordered_map<int64_t, User> users_;          // connected users, for the announcements
};

}  // namespace parley::events
