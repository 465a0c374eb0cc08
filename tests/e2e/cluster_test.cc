// tools/cluster (issue 10 items 3 and 4): two "hosts" (two parley-fcgi pools,
// two parley-events daemons) on one PostgreSQL behind nginx, no sticky
// sessions. What a pool writes reaches subscribers of every daemon (the
// append's NOTIFY); typing from either pool reaches both daemons; a killed
// daemon and a killed pool are routed around, and a client that resumes
// elsewhere with its cursor loses nothing.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
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
#include "stack.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kHosts = 2;

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

  Cluster cluster_;
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

}  // namespace
}  // namespace parley::e2e
