// Per-user write quotas inside parley-fcgi (hardening item 4), through the
// real stack: every class of write gets 429 throttled with a Retry-After of
// the real wait once its bucket is empty, rooms per owner are capped, and
// so are the rooms and conversations one user is in.
// nginx's own limits are on as shipped; the buckets here are far smaller
// (2 writes, then one per 100 s), so every 429 below is parley-fcgi's own,
// which its message (naming the class) shows.
#include <atomic>
#include <mutex>
#include <thread>
#include <functional>
#include <string>
#include <vector>

#include "fixture.h"

namespace parley::e2e {
namespace {

constexpr const char* kRates =
    "PARLEY_WRITE_RATES=send=0.01/2,edit=0.01/2,delete=0.01/2,join=0.01/2,leave=0.01/2,create_room=0.01/2,"
    "invite=0.01/2,dm=0.01/2,typing=0.01/2,read=0.01/2";

class QuotaTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;
    o.fcgi_env = {kRates};
    return o;
  }
};

// One write of a class: method, path and body, varied by attempt i.
struct Write {
  std::string name;
  std::string method;
  std::function<std::string(int)> path;
  std::function<std::string(int)> body;
};

TEST_F(QuotaTest, AFloodOfEachWriteClassGets429WithRetryAfter) {
  User alice = Register("alice");
  User bob = Register("bob");
  std::vector<User> peers;
  for (int i = 0; i < 4; ++i) peers.push_back(Register("peer"));
  const int64_t general = General(alice);
  // Rooms and messages to act on, made by bob (his own buckets) and alice.
  std::vector<int64_t> bobs;
  for (int i = 0; i < 2; ++i) bobs.push_back(CreateRoom(bob, Unique("pub"), "public"));
  std::vector<int64_t> alices;
  for (int i = 0; i < 2; ++i) alices.push_back(CreateRoom(alice, Unique("priv"), "private"));
  std::vector<int64_t> msgs;
  for (int i = 0; i < 2; ++i) msgs.push_back(Send(alice, general, "m" + std::to_string(i))["id"].num());
  auto none = [](int) { return std::string(); };
  auto text = [](int i) { return "{\"text\":\"t" + std::to_string(i) + "\"}"; };
  const std::vector<Write> writes = {
      {"send", "POST", [&](int) { return RoomPath(general, "/messages"); }, text},
      {"edit", "PATCH", [&](int) { return MessagePath(msgs[0]); }, text},
      {"delete", "DELETE", [&](int i) { return MessagePath(msgs[i % 2]); }, none},
      {"join", "POST", [&](int i) { return RoomPath(bobs[i % 2], "/join"); }, none},
      {"leave", "POST", [&](int i) { return RoomPath(bobs[i % 2], "/leave"); }, none},
      {"create_room", "POST", [](int) { return std::string("/api/rooms"); },
       [&](int) { return "{\"name\":\"" + Unique("r") + "\",\"kind\":\"public\"}"; }},
      {"invite", "POST", [&](int i) { return RoomPath(alices[i % 2], "/members"); },
       [&](int i) { return "{\"username\":\"" + peers[i % 4].name + "\"}"; }},
      {"dm", "POST", [](int) { return std::string("/api/dm"); },
       [&](int i) { return "{\"username\":\"" + peers[i % 4].name + "\"}"; }},
      {"typing", "POST", [&](int) { return RoomPath(general, "/typing"); }, none},
      {"read", "POST", [&](int) { return RoomPath(general, "/read"); },
       [](int i) { return "{\"event_id\":" + std::to_string(i + 1) + "}"; }},
  };
  for (const Write& w : writes) {
    SCOPED_TRACE(w.name);
    int ok = 0, throttled = 0;
    for (int i = 0; i < 8; ++i) {
      const std::string path = w.path(i), body = w.body(i);
      Response r = w.method == "PATCH"    ? alice->Patch(path, body)
                   : w.method == "DELETE" ? alice->Delete(path)
                                          : alice->Post(path, body);
      if (r.status >= 200 && r.status < 300) {
        ++ok;
        continue;
      }
      ASSERT_EQ(r.status, 429) << r.Describe();
      ASSERT_EQ(r.ErrorCode(), "throttled") << r.Describe();
      // parley-fcgi's own 429, not nginx's: it names the class.
      EXPECT_NE(r.json()["error"]["message"].str().find("(" + w.name + ")"), std::string::npos) << r.body;
      const std::string after = r.Header("retry-after");
      ASSERT_FALSE(after.empty()) << r.Describe();
      EXPECT_GE(std::stoll(after), 50) << after;  // the real wait (~100 s), not a constant 1
      EXPECT_LE(std::stoll(after), 100) << after;
      ++throttled;
    }
    // Each bucket holds 2. Typing's lives in each worker's memory
    // (fcgi/handlers_rooms.cc says why), so it allows 2 per worker.
    const int allowed = w.name == "typing" ? 2 * Options().workers : 2;
    EXPECT_LE(ok, allowed);
    EXPECT_EQ(ok + throttled, 8);
    EXPECT_GE(throttled, 8 - allowed);
  }
  // Bob's buckets are his own.
  EXPECT_EQ(bob->Post(RoomPath(general, "/typing")).status, 204);
  EXPECT_EQ(bob->Post(RoomPath(general, "/messages"), "{\"text\":\"hi\"}").status, 201);
  ExpectHealthy();
}

// All of one user's sessions together read within one bucket per worker
// (fcgi/read_quota.h: 60 a second, burst 400), where nginx bounds each
// session alone (30 a second, burst 200): five sessions reading at once,
// 190 each, are each within nginx's burst, and together past the user's.
class ReadQuotaTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;
    o.workers = 1;
    return o;
  }
};

TEST_F(ReadQuotaTest, AUsersSessionsTogetherReadWithinOneBucket) {
  User alice = Register("alice");
  User bob = Register("bob");
  std::vector<std::string> tokens = {alice.token};
  for (int i = 0; i < 4; ++i) {
    Response r = alice->Post("/api/login", "{\"username\":" + Quote(alice.name) + ",\"password\":" + Quote(kPassword) + "}");
    ASSERT_EQ(r.status, 200) << r.Describe();
    tokens.push_back(r.json()["token"].str());
  }
  std::atomic<int> ok{0}, ours{0}, other{0};
  std::mutex mu;
  std::string unexpected;
  std::vector<std::thread> threads;
  for (const std::string& token : tokens) {
    threads.emplace_back([&, token] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(token);
      for (int i = 0; i < 190; ++i) {
        Response r = c.Get("/api/me");
        if (r.status == 200) {
          ok++;
        } else if (r.status == 429 && r.body.find("sessions together") != std::string::npos &&
                   !r.Header("retry-after").empty()) {
          ours++;
        } else {
          other++;
          std::lock_guard<std::mutex> lock(mu);
          unexpected = r.Describe();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other.load(), 0) << unexpected;
  EXPECT_GT(ours.load(), 0) << ok.load() << " reads went through";
  // The burst and what refilled while they ran, at most (they ran for less
  // than 10 s on any machine this runs on).
  EXPECT_GE(ok.load(), 400);
  EXPECT_LT(ok.load(), 400 + 60 * 10);
  Response theirs = bob->Get("/api/me");
  EXPECT_EQ(theirs.status, 200) << "another user's reads are theirs: " << theirs.Describe();
}

class RoomCapsTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;
    o.fcgi_env = {"PARLEY_ROOMS_PER_USER=3", "PARLEY_MEMBERSHIPS_PER_USER=4"};
    return o;
  }
};

TEST_F(RoomCapsTest, RoomsPerOwnerAreCapped) {
  User alice = Register("alice");
  for (int i = 0; i < 3; ++i) CreateRoom(alice, Unique("room"), i == 2 ? "qa" : "public");
  Response r = alice->Post("/api/rooms", "{\"name\":\"" + Unique("more") + "\",\"kind\":\"private\"}");
  EXPECT_EQ(r.status, 403) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "room_limit_reached") << r.body;
  // Somebody else still creates rooms.
  User bob = Register("bob");
  CreateRoom(bob, Unique("bobs"), "public");
}

TEST_F(RoomCapsTest, AUserInTooManyRoomsIsAddedToNoOtherByAnyone) {
  User alice = Register("alice");  // in general
  User bob = Register("bob");
  User carol = Register("carol");
  const int64_t mine = CreateRoom(alice, Unique("mine"), "public");
  const int64_t lobby = CreateRoom(bob, Unique("lobby"), "public");
  const int64_t hall = CreateRoom(bob, Unique("hall"), "public");
  const int64_t secret = CreateRoom(carol, Unique("secret"), "private");  // carol is in two
  EXPECT_EQ(alice->Post(RoomPath(lobby, "/join")).status, 200);
  EXPECT_EQ(alice->Post(RoomPath(hall, "/join")).status, 200);  // the fourth
  auto expect_full = [&](const Response& r) {
    EXPECT_EQ(r.status, 403) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "membership_limit_reached") << r.body;
    EXPECT_NE(r.body.find(alice.name + " is in 4 rooms"), std::string::npos) << r.body;
  };
  expect_full(alice->Post("/api/rooms", "{\"name\":\"" + Unique("more") + "\",\"kind\":\"public\"}"));
  // An invitation waits (and costs nothing); accepting it is refused.
  EXPECT_EQ(carol->Post(RoomPath(secret, "/members"), "{\"username\":\"" + alice.name + "\"}").status, 201);
  expect_full(alice->Post(RoomPath(secret, "/join")));
  expect_full(alice->Post("/api/dm", "{\"username\":\"" + bob.name + "\"}"));
  // A DM someone else opens is a request: it reaches alice all the same,
  // and her answer is what counts.
  Response dm = carol->Post("/api/dm", "{\"username\":\"" + alice.name + "\"}");
  ASSERT_EQ(dm.status, 201) << dm.Describe();
  const int64_t carols = dm.json()["room"]["id"].num();
  const std::string hi = "{\"text\":\"hi\"}";
  EXPECT_EQ(carol->Post(RoomPath(carols, "/messages"), hi).status, 201);
  expect_full(alice->Post(RoomPath(carols, "/messages"), hi));
  // Nothing of the refused ways in shows in alice's list, and carol's
  // request does; a room she is in she may join again; leaving makes room.
  Response list = alice->Get("/api/rooms");
  ASSERT_EQ(list.status, 200) << list.Describe();
  int member_of = 0, dms = 0;
  for (const Json& room : list.json()["rooms"].items()) {
    dms += room["kind"].str() == "dm" ? 1 : 0;
    member_of += room["member"].boolean() ? 1 : 0;
  }
  EXPECT_EQ(member_of, 5) << list.body;
  EXPECT_EQ(dms, 1) << list.body;
  EXPECT_EQ(alice->Post(RoomPath(mine, "/join")).status, 200);
  EXPECT_EQ(alice->Post(RoomPath(lobby, "/leave")).status, 204);
  EXPECT_EQ(alice->Post(RoomPath(secret, "/join")).status, 200) << "the invitation outlived the refusal";
  expect_full(alice->Post(RoomPath(carols, "/messages"), hi));
  EXPECT_EQ(alice->Post(RoomPath(hall, "/leave")).status, 204);
  EXPECT_EQ(alice->Post(RoomPath(carols, "/messages"), hi).status, 201) << "answered once there is room";
  expect_full(alice->Post(RoomPath(hall, "/join")));
}

}  // namespace
}  // namespace parley::e2e
