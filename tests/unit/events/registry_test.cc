#include "events/registry.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace parley::events {
namespace {

std::unique_ptr<Conn> MakeConn(uint64_t id, int64_t user) {
  auto c = std::make_unique<Conn>();
  c->id = id;
  c->user_id = user;
  return c;
}

std::vector<uint64_t> Collect(const Registry& r, int64_t room, int64_t target) {
  std::vector<uint64_t> ids;
  r.ForRoom(room, target, [&](Conn& c) { ids.push_back(c.id); });
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(RegistryTest, FirstAndLastConnectionOfAUser) {
  Registry r;
  EXPECT_TRUE(r.Add(MakeConn(1, 10)));
  EXPECT_FALSE(r.Add(MakeConn(2, 10)));  // a second tab
  EXPECT_EQ(r.connections(), 2u);
  EXPECT_EQ(r.users(), 1u);
  EXPECT_FALSE(r.Remove(r.Find(1)));
  EXPECT_TRUE(r.Remove(r.Find(2)));
  EXPECT_FALSE(r.Connected(10));
  EXPECT_EQ(r.Find(2), nullptr);
}

TEST(RegistryTest, RoomFanOutReachesEveryTabOfEveryMemberOnce) {
  Registry r;
  r.Add(MakeConn(1, 10));
  r.Add(MakeConn(2, 10));
  r.Add(MakeConn(3, 20));
  r.Add(MakeConn(4, 30));
  r.SetRooms(10, {100});
  r.SetRooms(20, {100, 200});
  r.SetRooms(30, {200});
  EXPECT_EQ(Collect(r, 100, 0), (std::vector<uint64_t>{1, 2, 3}));
  // The target is also a member: still once.
  EXPECT_EQ(Collect(r, 100, 20), (std::vector<uint64_t>{1, 2, 3}));
  // A target outside the room (a user who just left) still hears of it.
  EXPECT_EQ(Collect(r, 100, 30), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Collect(r, 999, 0), (std::vector<uint64_t>{}));
}

TEST(RegistryTest, JoinAndLeaveFollowMemberEvents) {
  Registry r;
  r.Add(MakeConn(1, 10));
  r.SetRooms(10, {});
  r.Join(10, 5);
  EXPECT_EQ(Collect(r, 5, 0), (std::vector<uint64_t>{1}));
  r.Leave(10, 5);
  EXPECT_EQ(Collect(r, 5, 0), (std::vector<uint64_t>{}));
  // Users without a connection are not tracked at all.
  r.Join(99, 5);
  EXPECT_EQ(Collect(r, 5, 0), (std::vector<uint64_t>{}));
}

TEST(RegistryTest, LastConnectionForgetsTheUsersRooms) {
  Registry r;
  r.Add(MakeConn(1, 10));
  r.SetRooms(10, {100});
  r.Remove(r.Find(1));
  r.Add(MakeConn(2, 20));
  r.SetRooms(20, {100});
  EXPECT_EQ(Collect(r, 100, 0), (std::vector<uint64_t>{2}));
}

TEST(RegistryTest, RoomsOutliveTheLastConnectionUntilDropped) {
  Registry r;
  r.Add(MakeConn(1, 10));
  r.SetRooms(10, {100});
  EXPECT_TRUE(r.Remove(r.Find(1)));
  EXPECT_FALSE(r.Connected(10));
  EXPECT_TRUE(r.TracksRooms(10));
  r.Join(10, 200);  // a member event while away still applies
  EXPECT_TRUE(r.Add(MakeConn(2, 10)));
  EXPECT_EQ(Collect(r, 100, 0), (std::vector<uint64_t>{2}));
  EXPECT_EQ(Collect(r, 200, 0), (std::vector<uint64_t>{2}));
  r.DropRooms(10);  // connected: nothing to drop
  EXPECT_TRUE(r.TracksRooms(10));
  r.Remove(r.Find(2));
  r.DropRooms(10);
  EXPECT_FALSE(r.TracksRooms(10));
  r.Join(10, 300);  // no longer tracked
  EXPECT_FALSE(r.TracksRooms(10));
}

TEST(RegistryTest, PeersShareARoom) {
  Registry r;
  r.Add(MakeConn(1, 10));
  r.Add(MakeConn(2, 20));
  r.Add(MakeConn(3, 30));
  r.SetRooms(10, {1});
  r.SetRooms(20, {1});
  r.SetRooms(30, {2});
  auto peers = r.Peers(10, 100);
  EXPECT_EQ(peers.size(), 1u);
  EXPECT_TRUE(peers.count(20));
  // A room over the limit carries no presence.
  EXPECT_TRUE(r.Peers(10, 1).empty());
}

}  // namespace
}  // namespace parley::events
