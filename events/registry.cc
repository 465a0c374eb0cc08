#include "events/registry.h"

#include <algorithm>

namespace parley::events {

bool Registry::Add(std::unique_ptr<Conn> conn) {
  Conn* c = conn.get();
  conns_.emplace(c->id, std::move(conn));
  auto& list = by_user_[c->user_id];
  list.push_back(c);
  return list.size() == 1;
}

bool Registry::Remove(Conn* conn) {
  auto it = conns_.find(conn->id);
  if (it == conns_.end()) return false;
  int64_t user = conn->user_id;
  auto& list = by_user_[user];
  list.erase(std::remove(list.begin(), list.end(), conn), list.end());
  bool last = list.empty();
  if (last) by_user_.erase(user);
  conns_.erase(it);  // frees conn
  return last;
}

void Registry::DropRooms(int64_t user_id) {
  if (Connected(user_id)) return;
  auto ur = user_rooms_.find(user_id);
  if (ur == user_rooms_.end()) return;
  for (int64_t room : ur->second) {
    auto ru = room_users_.find(room);
    if (ru == room_users_.end()) continue;
    ru->second.erase(user_id);
    if (ru->second.empty()) room_users_.erase(ru);
  }
  user_rooms_.erase(ur);
}

Conn* Registry::Find(uint64_t id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void Registry::SetRooms(int64_t user_id, const std::vector<int64_t>& rooms) {
  auto& mine = user_rooms_[user_id];
  for (int64_t room : rooms) {
    mine.insert(room);
    room_users_[room].insert(user_id);
  }
}

void Registry::Join(int64_t user_id, int64_t room_id) {
  auto ur = user_rooms_.find(user_id);
  if (ur == user_rooms_.end()) return;  // not connected: nothing to track
  ur->second.insert(room_id);
  room_users_[room_id].insert(user_id);
}

void Registry::Leave(int64_t user_id, int64_t room_id) {
  if (auto ur = user_rooms_.find(user_id); ur != user_rooms_.end()) ur->second.erase(room_id);
  if (auto ru = room_users_.find(room_id); ru != room_users_.end()) {
    ru->second.erase(user_id);
    if (ru->second.empty()) room_users_.erase(ru);
  }
}

void Registry::ForUser(int64_t user_id, const std::function<void(Conn&)>& fn) const {
  auto it = by_user_.find(user_id);
  if (it == by_user_.end()) return;
  for (Conn* c : it->second) fn(*c);
}

void Registry::ForRoom(int64_t room_id, int64_t target_user, const std::function<void(Conn&)>& fn) const {
  bool target_seen = false;
  if (auto ru = room_users_.find(room_id); ru != room_users_.end()) {
    for (int64_t user : ru->second) {
      target_seen |= user == target_user;
      ForUser(user, fn);
    }
  }
  if (target_user != 0 && !target_seen) ForUser(target_user, fn);
}

void Registry::ForAll(const std::function<void(Conn&)>& fn) const {
  for (const auto& [id, conn] : conns_) fn(*conn);
}

std::unordered_set<int64_t> Registry::Peers(int64_t user_id, size_t max_room) const {
  std::unordered_set<int64_t> out;
  auto ur = user_rooms_.find(user_id);
  if (ur == user_rooms_.end()) return out;
  for (int64_t room : ur->second) {
    auto ru = room_users_.find(room);
    if (ru == room_users_.end() || ru->second.size() > max_room) continue;
    out.insert(ru->second.begin(), ru->second.end());
  }
  out.erase(user_id);
  return out;
}

}  // namespace parley::events
