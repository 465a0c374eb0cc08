#include "events/presence.h"

#include "events/clock.h"
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

Status Presence::Admit(const User& user) {
  users_[user.id] = user;
  // Tracked while connected, and within the grace period after (a reload,
  // a long-poller's next poll): then no query.
  Registry& reg = conns_.registry();
  if (reg.TracksRooms(user.id)) return Status::Ok();
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> rooms, store_.RoomIdsOf(user.id));
  reg.SetRooms(user.id, rooms);
  return Status::Ok();
}

void Presence::NotHeld(int64_t user_id) {
  // Only the rooms of one who is neither connected nor in the grace period.
  if (offline_at_.count(user_id) == 0) conns_.registry().DropRooms(user_id);
}

void Presence::Opened(int64_t user_id) {
  // Back within the grace period (a reload, a long-poller's next poll): no flap.
  if (offline_at_.erase(user_id) > 0) return;
  WarnIfFailed(store_.SetOnline(user_id, true), user_id);
  // One daemon (SQLite): a first connection here is the first anywhere, as
  // before. Several (PostgreSQL): the database announced it if it was, and
  // that comes back to every daemon, this one included, as a wake-up.
  if (!store_.carries_wakeups()) Tell(users_[user_id], true);
}

void Presence::Closed(int64_t user_id) {
  // Announce offline only if no new connection opens within the grace
  // period (a page reload must not flap).
  offline_at_[user_id] = MonoMs() + cfg_.presence_grace_ms;
}

void Presence::Adopt(const std::vector<User>& held) {
  const int64_t until = MonoMs() + cfg_.presence_grace_ms;
  for (const User& user : held) {
    users_[user.id] = user;
    offline_at_[user.id] = until;
  }
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

std::vector<int64_t> Presence::Held() const {
  // users_ holds every connected user and every one in the grace period
  // (Admit, Adopt; only Offline forgets), and also those admitted whose
  // request was answered without a connection: those have no row.
  std::vector<int64_t> held;
  for (const auto& [id, user] : users_) {
    if (conns_.registry().Connected(id) || offline_at_.count(id) > 0) held.push_back(id);
  }
  return held;
}

void Presence::ClearAll() {
  for (auto& [user, when] : offline_at_) (void)store_.SetOnline(user, false);
  offline_at_.clear();
}

}  // namespace parley::events
