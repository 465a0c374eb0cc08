#include "events/presence.h"

#include "schema/json.h"

namespace parley::events {
namespace {

std::string PresenceData(const std::string& user_json, bool online) {
  JsonWriter w;
  w.BeginObject().Key("user").Raw(user_json).Key("online").Bool(online).EndObject();
  return w.Take();
}

}  // namespace

void Presence::Remember(const User& user) { user_json_[user.id] = ToJson(user); }

void Presence::Opened(int64_t user_id) {
  // Back within the grace period (a reload, a long-poller's next poll): no
  // flap, and the rooms are still tracked, so no query either.
  bool returning = offline_at_.erase(user_id) > 0;
  Registry& reg = conns_.registry();
  if (returning && reg.TracksRooms(user_id)) return;
  auto rooms = store_.RoomIdsOf(user_id);
  if (rooms.ok()) reg.SetRooms(user_id, *rooms);
  if (returning) return;
  (void)store_.SetOnline(user_id, true);
  std::unordered_set<int64_t> peers = reg.Peers(user_id, cfg_.presence_room_limit);
  std::vector<int64_t> to(peers.begin(), peers.end());
  fanout_.Ephemeral("presence", PresenceData(user_json_[user_id], true), 0, user_id, &to);
}

void Presence::Closed(int64_t user_id) {
  // Announce offline only if no new connection opens within the grace
  // period (a page reload must not flap).
  offline_at_[user_id] = NowMs() + cfg_.presence_grace_ms;
}

void Presence::Tick(int64_t now_ms) {
  for (auto it = offline_at_.begin(); it != offline_at_.end();) {
    if (it->second > now_ms) {
      ++it;
      continue;
    }
    int64_t user = it->first;
    it = offline_at_.erase(it);
    if (!conns_.registry().Connected(user)) Offline(user);
  }
}

void Presence::Offline(int64_t user_id) {
  (void)store_.SetOnline(user_id, false);
  Registry& reg = conns_.registry();
  if (!reg.TracksRooms(user_id)) {
    auto rooms = store_.RoomIdsOf(user_id);
    if (rooms.ok()) reg.SetRooms(user_id, *rooms);
  }
  std::unordered_set<int64_t> peers = reg.Peers(user_id, cfg_.presence_room_limit);
  reg.DropRooms(user_id);
  std::vector<int64_t> to(peers.begin(), peers.end());
  fanout_.Ephemeral("presence", PresenceData(user_json_[user_id], false), 0, user_id, &to);
  user_json_.erase(user_id);
}

void Presence::ClearAll() {
  for (auto& [user, when] : offline_at_) (void)store_.SetOnline(user, false);
  offline_at_.clear();
}

}  // namespace parley::events
