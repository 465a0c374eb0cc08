#include "events/presence.h"

#include "schema/json.h"
#include "schema/log.h"

namespace parley::events {
namespace {

std::string PresenceData(const User& user, bool online) {
  JsonWriter w;
  w.BeginObject().Key("user");
  Write(w, user);
  w.Key("online").Bool(online).EndObject();
  return w.Take();
}

// Presence is best effort: a failed write is logged, and the user's next
// change corrects it.
void WarnIfFailed(const Result<bool>& set, int64_t user_id) {
  if (!set.ok()) {
    LOG_WARN("presence of user %lld: %s", static_cast<long long>(user_id), set.status().message().c_str());
  }
}

}  // namespace

void Presence::Remember(const User& user) { users_[user.id] = user; }

void Presence::Opened(int64_t user_id) {
  // Back within the grace period (a reload, a long-poller's next poll): no
  // flap, and the rooms are still tracked, so no query either.
  bool returning = offline_at_.erase(user_id) > 0;
  Registry& reg = conns_.registry();
  if (returning && reg.TracksRooms(user_id)) return;
  auto rooms = store_.RoomIdsOf(user_id);
  if (rooms.ok()) reg.SetRooms(user_id, *rooms);
  if (returning) return;
  WarnIfFailed(store_.SetOnline(user_id, true), user_id);
  // One daemon (SQLite): a first connection here is the first anywhere, as
  // before. Several (PostgreSQL): the database announced it if it was, and
  // that comes back to every daemon, this one included, as a wake-up.
  if (!store_.carries_wakeups()) Tell(users_[user_id], true);
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
  WarnIfFailed(store_.SetOnline(user_id, false), user_id);
  if (!store_.carries_wakeups()) Tell(users_[user_id], false);  // as in Opened
  conns_.registry().DropRooms(user_id);
  users_.erase(user_id);
}

void Presence::Tell(const User& user, bool online) {
  // A user with no connection here (gone, or connected to another daemon)
  // has no tracked rooms: read them for this one announcement.
  Registry& reg = conns_.registry();
  const bool tracked = reg.TracksRooms(user.id);
  if (!tracked) {
    auto rooms = store_.RoomIdsOf(user.id);
    if (rooms.ok()) reg.SetRooms(user.id, *rooms);
  }
  std::unordered_set<int64_t> peers = reg.Peers(user.id, cfg_.presence_room_limit);
  if (!tracked) reg.DropRooms(user.id);
  std::vector<int64_t> to(peers.begin(), peers.end());
  fanout_.Ephemeral("presence", PresenceData(user, online), 0, user.id, &to);
}

void Presence::ClearAll() {
  for (auto& [user, when] : offline_at_) (void)store_.SetOnline(user, false);
  offline_at_.clear();
}

}  // namespace parley::events
