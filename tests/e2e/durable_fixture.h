// Shared by the durability tests (durable_test.cc, powercut_test.cc,
// crash_test.cc): the fixture, senders that retry with their client_id until
// answered, and the check of what they were told against what is stored.
// crash_test.cc keeps its own send loop (paced, no limit) but records into
// the same Sender.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "events_fixture.h"

namespace parley::e2e {

class DurableTest : public EventsTest {
 protected:
  // Registers PREFIX0..PREFIXn-1 and makes each a member of the room.
  std::vector<User> RegisterMembers(const std::string& prefix, int n, int64_t room) {
    std::vector<User> users;
    for (int i = 0; i < n; ++i) {
      users.push_back(Register(prefix + std::to_string(i)));
      Join(users.back(), room);
    }
    return users;
  }
  // The metrics as JSON, straight from the pool through nginx.
  Json FcgiStats() {
    Response r = NewClient(Client::Cookies::kOff)->Get("/api/_stats");
    if (r.status != 200) throw SetupError("/api/_stats: " + r.Describe());
    return r.json();
  }
  // client_id -> id of every message of the room, and fails on duplicates.
  std::map<std::string, int64_t> Stored(int64_t room) {
    const std::string sql = std::to_string(room);
    EXPECT_EQ(Sql("SELECT client_id, COUNT(*) FROM messages WHERE room_id = " + sql +
                     " GROUP BY client_id HAVING COUNT(*) > 1;"),
              "")
        << "client_ids stored more than once";
    std::map<std::string, int64_t> stored;
    std::istringstream rows(Sql("SELECT client_id, id FROM messages WHERE room_id = " + sql + " ORDER BY id;"));
    std::string row;
    while (std::getline(rows, row)) {
      auto bar = row.rfind('|');
      if (bar == std::string::npos) throw SetupError("sqlite row " + row);
      stored[row.substr(0, bar)] = std::stoll(row.substr(bar + 1));
    }
    return stored;
  }
};

struct Ack {
  std::string client_id;
  int64_t id = 0;
};

// One sender's thread: numbered client_ids, each sent until answered 2xx.
struct Sender {
  std::vector<Ack> acks;
  int retries = 0;
  int replayed = 0;  // retries answered 200: the first attempt had been stored
  std::vector<std::string> problems;
  std::thread thread;
};

// Sends numbered client_ids until `stop`, each retried with the same
// client_id until answered 2xx (as the web client does), at most `limit`.
inline void SendLoop(User& u, int64_t room, const std::string& prefix, int limit, const std::atomic<bool>& stop, Sender& s) {
  for (int n = 0; n < limit && !stop.load(); ++n) {
    const std::string cid = prefix + "-" + std::to_string(n);
    const std::string body = "{\"text\":\"durable " + cid + "\",\"client_id\":\"" + cid + "\"}";
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (true) {
      Response r = u->Post(RoomPath(room, "/messages"), body);
      if (r.status == 201 || r.status == 200) {
        s.acks.push_back({cid, r.json()["message"]["id"].num()});
        break;
      }
      if ((r.status == 0 || r.status >= 500) && std::chrono::steady_clock::now() < give_up) {
        ++s.retries;
        std::this_thread::sleep_for(50ms);
        continue;
      }
      s.problems.push_back(cid + ": " + r.Describe());
      break;
    }
  }
}

// One SendLoop thread per user, with client_ids `prefix`<i>-<n>. The
// threads hold addresses of the returned vector's elements: moving the
// vector keeps them where they are.
inline std::vector<Sender> StartSenders(std::vector<User>& users, int64_t room, const std::string& prefix, int limit,
                                        const std::atomic<bool>& stop) {
  std::vector<Sender> senders(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    Sender& s = senders[i];
    User& u = users[i];
    const std::string mine = prefix + std::to_string(i);
    s.thread = std::thread([&s, &u, room, mine, limit, &stop] { SendLoop(u, room, mine, limit, stop, s); });
  }
  return senders;
}

// What the senders were told, checked against what is stored.
struct AckCheck {
  size_t acked = 0;  // sends answered 2xx
  size_t lost = 0;   // of those, not stored under the id they were answered with
  int retries = 0;
  int replayed = 0;
};

// Checks every acknowledged send of `senders` against `stored` (client_id
// -> id): a failure for each one not stored under the id it was answered
// with, and for each sender that met a problem.
inline AckCheck CheckAcknowledged(const std::vector<Sender>& senders, const std::map<std::string, int64_t>& stored) {
  AckCheck c;
  for (const Sender& s : senders) {
    EXPECT_TRUE(s.problems.empty()) << s.problems.size() << " failed send(s), first: " << s.problems.front();
    c.retries += s.retries;
    c.replayed += s.replayed;
    for (const Ack& a : s.acks) {
      ++c.acked;
      auto it = stored.find(a.client_id);
      if (it == stored.end() || it->second != a.id) {
        ++c.lost;
        ADD_FAILURE() << a.client_id << " was answered with id " << a.id << " but is "
                      << (it == stored.end() ? "not stored" : "stored as " + std::to_string(it->second));
      }
    }
  }
  return c;
}

}  // namespace parley::e2e
