// Who listens to what, kept both ways (as Redis' pubsub keeps
// client->channels and channel->clients):
//   user -> their connections (several tabs, devices)
//   room -> users with at least one connection who are members
//   user -> rooms they are a member of (while connected, and after their
//           last connection closes until DropRooms: see Remove)
// Only connected users are tracked; a user's rooms are loaded when their
// first connection opens and updated from member events as they pass.
//
// Threading: events/ is single-threaded; no locks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "events/conn.h"

namespace parley::events {

class Registry {
 public:
  // Takes ownership. Returns true if this is the user's first connection.
  bool Add(std::unique_ptr<Conn> conn);
  // Removes and frees. Returns true if it was the user's last connection.
  // The user's rooms stay tracked (and kept current by member events) so
  // that a long-poller's next poll, or a page reload, needs no reload from
  // the database; DropRooms forgets them once the user is really gone.
  bool Remove(Conn* conn);
  // Forgets the rooms of a user who has no connection (else does nothing).
  void DropRooms(int64_t user_id);
  Conn* Find(uint64_t id) const;

  bool Connected(int64_t user_id) const { return by_user_.count(user_id) != 0; }
  size_t ConnectionsOf(int64_t user_id) const {
    auto it = by_user_.find(user_id);
    return it == by_user_.end() ? 0 : it->second.size();
  }
  bool TracksRooms(int64_t user_id) const { return user_rooms_.count(user_id) != 0; }
  void SetRooms(int64_t user_id, const std::vector<int64_t>& rooms);
  void Join(int64_t user_id, int64_t room_id);
  void Leave(int64_t user_id, int64_t room_id);

  // Every connection of the users who may see an event of room_id, plus
  // those of target_user (0: none). Each connection at most once.
  void ForRoom(int64_t room_id, int64_t target_user, const std::function<void(Conn&)>& fn) const;
  void ForUser(int64_t user_id, const std::function<void(Conn&)>& fn) const;
  void ForAll(const std::function<void(Conn&)>& fn) const;
  // Users who share with user_id at least one room of at most max_room
  // connected members (the presence audience: see Config::presence_room_limit).
  std::unordered_set<int64_t> Peers(int64_t user_id, size_t max_room) const;

  size_t connections() const { return conns_.size(); }
  size_t users() const { return by_user_.size(); }

 private:
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<int64_t, std::vector<Conn*>> by_user_;
  std::unordered_map<int64_t, std::unordered_set<int64_t>> room_users_;
  std::unordered_map<int64_t, std::unordered_set<int64_t>> user_rooms_;
};

}  // namespace parley::events
