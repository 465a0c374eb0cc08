// tools/cluster (issue 10 items 3 and 4): two "hosts" (two parley-fcgi pools,
// two parley-events daemons) on one PostgreSQL behind nginx, no sticky
// sessions. What a pool writes reaches subscribers of every daemon (the
// append's NOTIFY); typing from either pool reaches both daemons; a killed
// daemon and a killed pool are routed around, and a client that resumes
// elsewhere with its cursor loses nothing.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client.h"
#include "cluster.h"
#include "json.h"
#include "sse.h"
#include "stack.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kHosts = 2;
// The daemons' grace before "offline" (5 s by default): short, so the
// presence test waits little.
constexpr int kPresenceGraceMs = 1000;

struct Person {
  std::string name;
  std::string token;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    if (!cluster_.Start(&error)) FAIL() << error;
  }

  Client Api(const Person* as = nullptr) { return cluster_.Api(as ? as->token : ""); }
  Person Register(const std::string& name) { return Person{name, cluster_.Register(name)}; }
  // A poll on daemon `host` directly (1-based), or through nginx (0).
  Json Poll(const Person& p, int host, const std::string& query) {
    Client c(cluster_.base_url(), Client::Cookies::kOff);
    c.set_bearer(p.token);
    if (host > 0) c.set_unix_socket(cluster_.daemon_socket(host));
    Response r = c.Get("/events/poll" + query);
    EXPECT_EQ(r.status, 200) << "host " << host << ": " << r.Describe();
    return r.json();
  }
  // The ids of message events seen polling from `since` until `want` of
  // them arrived (bounded), in order.
  std::vector<int64_t> MessagesFrom(const Person& p, int host, int64_t since, size_t want) {
    std::vector<int64_t> ids;
    const auto deadline = Clock::now() + 20s;
    while (ids.size() < want && Clock::now() < deadline) {
      Json j = Poll(p, host, "?since=" + std::to_string(since) + "&timeout=2");
      if (!j["next"].is_number()) break;
      for (const Json& e : j["events"].items()) {
        if (e["type"].str() == "message") ids.push_back(e["id"].num());
      }
      since = j["next"].num();
    }
    return ids;
  }
  int64_t Head(const Person& p, int host) {
    Json j = Poll(p, host, "?timeout=0");
    return j["next"].is_number() ? j["next"].num() : -1;
  }
  int64_t NewRoom(const Person& owner, const std::vector<const Person*>& members) {
    Client c = Api(&owner);
    Response r = c.Post("/api/rooms", R"({"name":"lobby","kind":"public"})");
    EXPECT_EQ(r.status, 201) << r.Describe();
    const int64_t room = r.json()["room"]["id"].num();
    for (const Person* m : members) {
      Client mc = Api(m);
      Response j = mc.Post("/api/rooms/" + std::to_string(room) + "/join");
      EXPECT_EQ(j.status / 100, 2) << j.Describe();
    }
    return room;
  }
  int64_t Send(const Person& p, int64_t room, const std::string& text) {
    Client c = Api(&p);
    Response r = c.Post("/api/rooms/" + std::to_string(room) + "/messages", R"({"text":")" + text + R"("})");
    EXPECT_EQ(r.status, 201) << r.Describe();
    return r.status == 201 ? r.json()["message"]["id"].num() : -1;
  }

  Cluster cluster_{ClusterOptions{.hosts = kHosts, .presence_grace_ms = kPresenceGraceMs}};
};

TEST_F(ClusterTest, WhatAnyPoolWritesReachesEveryDaemonInOrder) {
  Person alice = Register("alice");
  Person bob = Register("bob");
  const int64_t room = NewRoom(alice, {&bob});
  // Each daemon's head once it has read the set-up (a wake-up or its check).
  std::vector<int64_t> since(kHosts + 1);
  for (int h = 1; h <= kHosts; ++h) since[h] = Head(bob, h);
  std::vector<int64_t> sent;
  for (int i = 0; i < 10; ++i) sent.push_back(Send(alice, room, "m" + std::to_string(i)));  // both pools, in turn
  for (int h = 1; h <= kHosts; ++h) {
    EXPECT_EQ(MessagesFrom(bob, h, since[h], sent.size()), sent) << "daemon " << h;
  }
}

TEST_F(ClusterTest, TypingThroughEitherPoolReachesSubscribersOfEveryDaemon) {
  Person alice = Register("alice");
  Person bob = Register("bob");
  Person carol = Register("carol");
  const int64_t room = NewRoom(alice, {&bob, &carol});
  // Two typists (a daemon merges one person's repeats within a few
  // seconds), and nginx sends their two requests to different pools.
  const Person* typists[] = {&alice, &carol};
  for (int round = 0; round < 2; ++round) {
    std::vector<int64_t> since(kHosts + 1);
    for (int h = 1; h <= kHosts; ++h) since[h] = Head(bob, h);
    std::vector<std::thread> held;
    std::vector<bool> typed(kHosts + 1, false);
    for (int h = 1; h <= kHosts; ++h) {
      held.emplace_back([&, h] {
        const auto deadline = Clock::now() + 15s;
        int64_t at = since[h];
        while (!typed[h] && Clock::now() < deadline) {
          Json j = Poll(bob, h, "?since=" + std::to_string(at) + "&timeout=5");
          for (const Json& e : j["events"].items()) typed[h] = typed[h] || e["type"].str() == "typing";
          if (j["next"].is_number()) at = j["next"].num();
        }
      });
    }
    std::this_thread::sleep_for(300ms);  // the polls are held (a repeat is merged, not lost)
    Client c = Api(typists[round]);
    EXPECT_EQ(c.Post("/api/rooms/" + std::to_string(room) + "/typing").status / 100, 2);
    for (auto& t : held) t.join();
    for (int h = 1; h <= kHosts; ++h) EXPECT_TRUE(typed[h]) << "round " << round << ", daemon " << h;
  }
}

TEST_F(ClusterTest, ADeadDaemonAndADeadPoolAreRoutedAroundAndNothingIsLost) {
  Person alice = Register("alice");
  Person bob = Register("bob");
  const int64_t room = NewRoom(alice, {&bob});
  const int64_t since = Head(bob, 2);
  std::vector<int64_t> sent;
  for (int i = 0; i < 5; ++i) sent.push_back(Send(alice, room, "before" + std::to_string(i)));
  cluster_.Kill("events-1");
  cluster_.Kill("fcgi-1");  // its workers follow their master (PR_SET_PDEATHSIG)
  for (int i = 0; i < 10; ++i) sent.push_back(Send(alice, room, "after" + std::to_string(i)));
  // Through nginx: every poll lands on the daemon that lives, from the cursor.
  EXPECT_EQ(MessagesFrom(bob, 0, since, sent.size()), sent);
}

// Presence counts every daemon's connections (issue 10 item 3): "online"
// reaches peers on every daemon when a user's first connection anywhere
// opens, "offline" when their last one anywhere closes (after the grace) or
// when the daemon that held it dies.
class ClusterPresenceTest : public ClusterTest {
 protected:
  // A stream held on daemon `host`'s own socket, open once its hello came.
  std::unique_ptr<SseStream> StreamOn(const Person& p, int host) {
    SseStream::Options o;
    o.unix_socket = cluster_.daemon_socket(host);
    o.headers = {"Authorization: Bearer " + p.token};
    std::string error;
    auto s = SseStream::Open(0, o, &error);
    EXPECT_TRUE(s) << error;
    if (s) {
      EXPECT_TRUE(s->WaitForEvent("hello", 10s)) << p.name << " on daemon " << host << ": " << s->Body();
    }
    return s;
  }
  static int Announced(const SseState& st, const std::string& user, bool online) {
    int n = 0;
    for (const SseEvent& e : st.Events()) {
      n += e.type == "presence" && e.json()["user"]["username"].str() == user && e.json()["online"].boolean() == online;
    }
    return n;
  }
  // Waits (bounded) until `s` has seen `user` announced `online` n times.
  static bool WaitAnnounced(SseStream& s, const std::string& user, bool online, int n,
                            std::chrono::milliseconds timeout = 10s) {
    return s.WaitUntil([&](const SseState& st) { return Announced(st, user, online) >= n; }, timeout);
  }
  // The members list's `online` of `user` in `room`, as `viewer` reads it.
  bool ListedOnline(const Person& viewer, int64_t room, const std::string& user) {
    Client c = Api(&viewer);
    Response r = c.Get("/api/rooms/" + std::to_string(room) + "/members");
    EXPECT_EQ(r.status, 200) << r.Describe();
    for (const Json& m : r.json()["members"].items()) {
      if (m["user"]["username"].str() == user) return m["online"].boolean();
    }
    ADD_FAILURE() << user << " is not a member: " << r.body;
    return false;
  }
};

TEST_F(ClusterPresenceTest, OnlineAndOfflineOnceAcrossDaemonsAndWhenADaemonDies) {
  Person alice = Register("alice");
  Person bob = Register("bob");
  Person carol = Register("carol");
  const int64_t room = NewRoom(bob, {&alice, &carol});  // a small room: they are each other's peers
  auto b = StreamOn(bob, 2);
  ASSERT_TRUE(b);

  // Alice's first connection anywhere: bob, on the other daemon, hears it.
  auto a1 = StreamOn(alice, 1);
  ASSERT_TRUE(WaitAnnounced(*b, "alice", true, 1)) << b->Body();
  EXPECT_TRUE(ListedOnline(bob, room, "alice"));
  // A second daemon gains a connection of hers, then the first loses its:
  // neither is news. Carol, on daemon 1 only, comes and goes after alice,
  // so her offline arrives after anything daemon 1 or 2 said of alice.
  auto a2 = StreamOn(alice, 2);
  auto c1 = StreamOn(carol, 1);
  ASSERT_TRUE(WaitAnnounced(*b, "carol", true, 1)) << b->Body();
  a1->Close();
  c1->Close();
  ASSERT_TRUE(WaitAnnounced(*b, "carol", false, 1)) << b->Body();
  b->With([](const SseState& st) {
    EXPECT_EQ(Announced(st, "alice", true), 1);
    EXPECT_EQ(Announced(st, "alice", false), 0) << "offline while daemon 2 holds her";
  });
  EXPECT_TRUE(ListedOnline(bob, room, "alice"));
  // Her last connection anywhere closes: offline, once, after the grace.
  a2->Close();
  ASSERT_TRUE(WaitAnnounced(*b, "alice", false, 1)) << b->Body();
  EXPECT_FALSE(ListedOnline(bob, room, "alice"));

  // Back on daemon 1, which then dies: the others notice within seconds
  // (KeepPresence: 5 s of silence, checked every second).
  auto a3 = StreamOn(alice, 1);
  ASSERT_TRUE(WaitAnnounced(*b, "alice", true, 2)) << b->Body();
  const auto killed = Clock::now();
  cluster_.Kill("events-1");
  ASSERT_TRUE(WaitAnnounced(*b, "alice", false, 2, 15s)) << b->Body();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
  EXPECT_LT(took, 9s) << "offline " << took.count() << " ms after the kill";
  std::printf("presence: offline %lld ms after kill -9 of the daemon that held the user\n",
              static_cast<long long>(took.count()));
  EXPECT_FALSE(ListedOnline(bob, room, "alice"));
  b->With([](const SseState& st) {
    EXPECT_EQ(Announced(st, "alice", true), 2);
    EXPECT_EQ(Announced(st, "alice", false), 2);
  });
}

// A daemon silent for more than 5 s (stopped here; in production, the
// database out of its reach) is taken for dead by another, which drops its
// presence rows and announces its users offline. It was alive all along:
// once it marks itself alive again, it finds it was evicted and puts back
// the rows of the users it still holds, who are announced online again.
// Before, alice stayed offline for as long as her stream stayed open.
TEST_F(ClusterPresenceTest, ADaemonTakenForDeadThatWasNotPutsItsUsersBackOnline) {
  Person alice = Register("alice");
  Person bob = Register("bob");
  const int64_t room = NewRoom(bob, {&alice});
  auto b = StreamOn(bob, 1);
  auto a = StreamOn(alice, 2);
  ASSERT_TRUE(b && a);
  ASSERT_TRUE(WaitAnnounced(*b, "alice", true, 1)) << b->Body();

  // A daemon is watched from its first mark on (a tick, a second after its
  // start): let daemon 2 make it.
  std::this_thread::sleep_for(2s);
  const pid_t pid = cluster_.Pid("events-2");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  // Resumed whatever happens below, so that the cluster can stop.
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{pid};
  // Daemon 1 notices the silence (5 s, checked every second).
  ASSERT_TRUE(WaitAnnounced(*b, "alice", false, 1, 15s)) << b->Body() << "\n" << cluster_.LogTail();
  EXPECT_FALSE(ListedOnline(bob, room, "alice"));
  const auto resumed = Clock::now();
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  // Its next mark (within a second or so of resuming) puts her back.
  ASSERT_TRUE(WaitAnnounced(*b, "alice", true, 2, 5s)) << b->Body() << "\n" << cluster_.LogTail();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - resumed);
  std::printf("presence: online again %lld ms after the silent daemon resumed\n", static_cast<long long>(took.count()));
  EXPECT_TRUE(ListedOnline(bob, room, "alice"));
  // Her stream on daemon 2 stayed open throughout.
  EXPECT_FALSE(a->eof()) << a->Body();
  b->With([](const SseState& st) {
    EXPECT_EQ(Announced(st, "alice", true), 2);
    EXPECT_EQ(Announced(st, "alice", false), 1);
  });
}

}  // namespace
}  // namespace parley::e2e
