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
#include "json.h"
#include "stack.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kHosts = 2;

// tools/cluster 2 in a temporary directory, stopped (with its PostgreSQL)
// when destroyed.
class Cluster {
 public:
  bool Start(std::string* error) {
    auto dir = TempDir::Make(error);
    if (!dir) return false;
    dir_ = std::move(dir);
    // As root, tools/pg runs the server as the postgres user, who must be
    // able to pass through the directory (mkdtemp makes it 0700).
    chmod(dir_->path().c_str(), 0711);
    port_ = FreeLoopbackPort();
    Child::Options o;
    o.argv = {"/bin/bash", std::string(PARLEY_SOURCE_DIR) + "/tools/cluster", std::to_string(kHosts)};
    o.env = {"PARLEY_NO_BUILD=1", "PARLEY_BUILD_DIR=" + std::string(PARLEY_BUILD_DIR),
             "PARLEY_PORT=" + std::to_string(port_), "PARLEY_VAR=" + var(), "PARLEY_LIMITS=off"};
    o.log_path = dir_->path() + "/cluster.out";
    child_ = Child::Spawn(o, error);
    if (!child_) return false;
    const auto deadline = Clock::now() + 90s;  // initdb on a busy machine
    while (Clock::now() < deadline) {
      std::ifstream in(var() + "/cluster.pids");
      std::string name;
      pid_t pid = 0;
      while (in >> name) {
        if (name == "ready") return true;
        if (in >> pid) pids_[name] = pid;
      }
      if (!child_->Running()) break;
      std::this_thread::sleep_for(100ms);
    }
    *error = "tools/cluster did not become ready:\n" + ReadText(dir_->path() + "/cluster.out") +
             ReadText(var() + "/fcgi-1.log") + ReadText(var() + "/events-1.log");
    return false;
  }
  ~Cluster() {
    if (child_) child_->Stop(20000ms);  // tools/cluster stops everything it started
  }

  std::string var() const { return dir_->path() + "/var"; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string daemon_socket(int i) const { return var() + "/events-" + std::to_string(i) + ".sock"; }
  // SIGKILL to a process of the cluster ("events-1", "fcgi-2"): a crashed host.
  void Kill(const std::string& name) {
    ASSERT_TRUE(pids_.count(name)) << name;
    ::kill(pids_[name], SIGKILL);
  }

 private:
  std::optional<TempDir> dir_;
  int port_ = 0;
  std::unique_ptr<Child> child_;
  std::map<std::string, pid_t> pids_;
};

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

  Client Api(const Person* as = nullptr) {
    Client c(cluster_.base_url(), Client::Cookies::kOff);
    if (as) c.set_bearer(as->token);
    return c;
  }
  Person Register(const std::string& name) {
    Client c = Api();
    Response r = c.Post("/api/register", R"({"username":")" + name + R"(","password":"correct horse battery"})");
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Person{name, r.json()["token"].str()};
  }
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
