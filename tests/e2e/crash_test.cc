// Crash tests (issue 8, item 16): the real stack under load while its
// processes die by SIGKILL, round after round. Four senders (each its own
// user and client_ids) send into one room and retry a failed send with the
// same client_id, as the web client does; two subscribers stream over SSE
// and resume from their last id whenever a stream ends (and at random on
// their own); two more long-poll with `next` cursors. Every round kills one
// of: a FastCGI worker (the pool master replaces it), the pool master (the
// test starts a new one; its orphaned workers must exit by themselves), or
// parley-events (the test starts it again).
//
// What must hold at the end: every send answered 2xx is stored exactly once
// under the id it was answered with (counted by client_id in the database);
// every subscriber saw exactly the room's stored messages, each once, in
// order; `PRAGMA integrity_check` says ok. Waits are seconds long, not
// milliseconds: other builds share the CPU.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <sstream>
#include <thread>

#include "durable_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRounds = 20;
constexpr auto kRound = 3s;       // one kill per round, about a second in
constexpr auto kRetryFor = 60s;   // a sender gives up on one message after this

class CrashTest : public EventsTest {};

// One long-poller's thread: follows `next` until it has seen `target`.
struct Poller {
  std::vector<int64_t> ids;  // message ids of the room, in arrival order
  int polls = 0;
  int refused = 0;
  std::vector<std::string> problems;
  std::thread thread;
};

bool Gone(pid_t pid) {
  char s = ProcessState(pid);
  return s == '?' || s == 'Z' || s == 'X';
}

// Polls `done` every 50 ms for up to `timeout`.
template <typename Pred>
bool WaitFor(Pred done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

TEST_F(CrashTest, KillsUnderLoadLoseNoAcknowledgedSend) {
  const auto test_start = Clock::now();
  constexpr int kSenders = 4, kStreams = 2, kPollers = 2;
  std::vector<User> senders;
  for (int i = 0; i < kSenders; ++i) senders.push_back(Register("send" + std::to_string(i)));
  const int64_t room = CreateRoom(senders[0], "crash", "public");
  for (int i = 1; i < kSenders; ++i) Join(senders[static_cast<size_t>(i)], room);
  std::vector<User> readers;
  for (int i = 0; i < kStreams + kPollers; ++i) {
    readers.push_back(Register("read" + std::to_string(i)));
    Join(readers.back(), room);
  }
  const int64_t start = Head(readers[0].token);

  std::vector<std::unique_ptr<Resumer>> streams;
  for (int i = 0; i < kStreams; ++i) {
    Resumer::Options o;
    o.port = stack().port();
    o.token = readers[static_cast<size_t>(i)].token;
    o.cursor = start;
    o.min_life = 500ms;  // also resume now and then without a kill
    o.max_life = 3000ms;
    o.deadline = 200s;
    o.seed = static_cast<uint32_t>(i + 7);
    streams.push_back(std::make_unique<Resumer>(o));
    streams.back()->Start();
  }
  for (auto& s : streams) ASSERT_TRUE(s->WaitConnected(10s)) << "a subscriber never connected";

  std::atomic<int64_t> poll_target{INT64_MAX};
  const auto poll_deadline = Clock::now() + 200s;
  std::vector<Poller> pollers(kPollers);
  for (int i = 0; i < kPollers; ++i) {
    Poller& p = pollers[static_cast<size_t>(i)];
    const std::string token = readers[static_cast<size_t>(kStreams + i)].token;
    p.thread = std::thread([this, &p, token, start, room, &poll_target, poll_deadline] {
      int64_t cursor = start;
      while (cursor < poll_target.load() && Clock::now() < poll_deadline) {
        PollResult r = Poll(token, "?since=" + std::to_string(cursor) + "&timeout=2");
        ++p.polls;
        if (!r.well_formed) {
          // 502: nginx found no daemon; 503: it is stopping; 0: the
          // connection broke. All mean "poll again shortly".
          const long st = r.response.status;
          if (st != 0 && st != 502 && st != 503) p.problems.push_back("poll: " + r.response.Describe());
          ++p.refused;
          std::this_thread::sleep_for(100ms);
          continue;
        }
        for (const PolledEvent& e : r.events) {
          if (e.type == "reset") p.problems.push_back("reset after " + std::to_string(cursor));
          if (!e.id) continue;
          if (*e.id <= cursor) {
            p.problems.push_back("id " + std::to_string(*e.id) + " after " + std::to_string(cursor));
          }
          cursor = std::max(cursor, *e.id);
          if (e.type == "message" && RoomOf(e.data) == room) p.ids.push_back(*e.id);
        }
        cursor = std::max(cursor, r.next);
      }
    });
  }

  std::atomic<bool> stop_sending{false};
  std::vector<Sender> sends(kSenders);
  for (int i = 0; i < kSenders; ++i) {
    Sender& s = sends[static_cast<size_t>(i)];
    User& u = senders[static_cast<size_t>(i)];
    s.thread = std::thread([&s, &u, i, room, &stop_sending] {
      for (int n = 0; !stop_sending.load(); ++n) {
        const std::string cid = "c" + std::to_string(i) + "-" + std::to_string(n);
        const std::string body = "{\"text\":\"crash " + cid + "\",\"client_id\":\"" + cid + "\"}";
        const auto give_up = Clock::now() + kRetryFor;
        while (true) {
          Response r = u->Post(RoomPath(room, "/messages"), body);
          if (r.status == 201 || r.status == 200) {
            s.replayed += r.status == 200;
            s.acks.push_back({cid, r.json()["message"]["id"].num()});
            break;
          }
          // No answer, or 5xx (a killed worker, a restarting pool): the
          // message may or may not be stored; the same client_id makes the
          // retry safe either way.
          if ((r.status == 0 || r.status >= 500) && Clock::now() < give_up) {
            ++s.retries;
            std::this_thread::sleep_for(100ms);
            continue;
          }
          s.problems.push_back(cid + ": " + r.Describe());
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
    });
  }

  // The rounds: one kill each, rotating through the three victims.
  int worker_kills = 0, busy_kills = 0, master_kills = 0, events_kills = 0;
  std::vector<std::string> round_problems;
  for (int round = 0; round < kRounds; ++round) {
    const auto round_start = Clock::now();
    std::this_thread::sleep_for(1s);
    std::string error;
    // Checks a kill (its wait status) and the restart that followed; a
    // daemon that cannot start again ends the rounds: nothing more to learn.
    auto restarted = [&](int kill_status, bool started) {
      if (!WIFSIGNALED(kill_status) || WTERMSIG(kill_status) != SIGKILL) {
        round_problems.push_back("round " + std::to_string(round) + ": wait status " + std::to_string(kill_status));
      }
      if (!started) {
        round_problems.push_back("round " + std::to_string(round) + ": " + error);
        round = kRounds;
      }
      return started;
    };
    switch (round % 3) {
      case 0: {  // a worker: the master replaces it
        std::vector<pid_t> workers = stack().FcgiWorkers();
        if (workers.empty()) {
          round_problems.push_back("round " + std::to_string(round) + ": no worker to kill");
          break;
        }
        // Preferably one in the middle of a request (not waiting for one),
        // so the kill can land inside a transaction.
        pid_t victim = workers[static_cast<size_t>(round) % workers.size()];
        WaitFor(
            [&] {
              for (pid_t w : workers) {
                if (!WaitingForRequests(w) && !Gone(w)) victim = w;
              }
              return !WaitingForRequests(victim);
            },
            1s);
        busy_kills += !WaitingForRequests(victim);
        kill(victim, SIGKILL);
        ++worker_kills;
        bool replaced = WaitFor(
            [&] {
              std::vector<pid_t> now = stack().FcgiWorkers();
              return now.size() == 2 && std::find(now.begin(), now.end(), victim) == now.end();
            },
            15s);
        if (!replaced) round_problems.push_back("round " + std::to_string(round) + ": worker not replaced");
        break;
      }
      case 1: {  // the master: a new one takes over the socket
        std::vector<pid_t> orphans = stack().FcgiWorkers();
        ++master_kills;
        const int st = stack().KillFcgi();  // before the restart: argument order is unspecified
        if (!restarted(st, stack().StartFcgi(&error))) break;
        // The killed master's workers finish what they hold and go.
        if (!WaitFor([&] { return std::all_of(orphans.begin(), orphans.end(), Gone); }, 15s)) {
          round_problems.push_back("round " + std::to_string(round) + ": orphaned workers still run");
        }
        break;
      }
      default: {  // parley-events: every stream open at the kill must end
        for (auto& s : streams) s->Hold(true);
        for (size_t i = 0; i < streams.size(); ++i) {
          if (!streams[i]->WaitStreaming(10s)) {
            round_problems.push_back("round " + std::to_string(round) + ": stream " + std::to_string(i) +
                                     " not open before the kill");
          }
        }
        ++events_kills;
        const int st = stack().KillEvents();
        restarted(st, stack().StartEvents(&error));
        for (auto& s : streams) s->Hold(false);
        break;
      }
    }
    std::this_thread::sleep_until(round_start + kRound);
  }

  stop_sending = true;
  for (Sender& s : sends) s.thread.join();
  // The last message marks the end for every subscriber (0 if it cannot be
  // sent: then they stop at once, and the comparisons below fail).
  int64_t last = 0;
  WaitFor(
      [&] {
        Response r = senders[0]->Post(RoomPath(room, "/messages"), "{\"text\":\"the end\",\"client_id\":\"final-1\"}");
        if (r.status == 201 || r.status == 200) last = r.json()["message"]["id"].num();
        return last != 0;
      },
      30s);
  EXPECT_NE(last, 0) << "the final message could not be sent";
  for (auto& s : streams) s->FinishAt(last);
  poll_target = last;
  std::vector<bool> reached;
  for (auto& s : streams) reached.push_back(s->Join());
  for (Poller& p : pollers) p.thread.join();

  EXPECT_TRUE(round_problems.empty()) << round_problems.size() << " problem(s), first: " << round_problems.front();

  // The database: intact, and every acknowledged send in it once.
  EXPECT_EQ(Sql("PRAGMA integrity_check;"), "ok\n");
  const std::string room_sql = std::to_string(room);
  EXPECT_EQ(Sql("SELECT client_id, COUNT(*) FROM messages WHERE room_id = " + room_sql +
                   " GROUP BY client_id HAVING COUNT(*) > 1;"),
            "")
      << "client_ids stored more than once";
  std::map<std::string, int64_t> stored;  // client_id -> id
  std::vector<int64_t> stored_ids;        // every message of the room, by id
  {
    std::istringstream rows(Sql("SELECT client_id, id FROM messages WHERE room_id = " + room_sql +
                                   " ORDER BY id;"));
    std::string row;
    while (std::getline(rows, row)) {
      auto bar = row.rfind('|');
      ASSERT_NE(bar, std::string::npos) << row;
      const int64_t id = std::stoll(row.substr(bar + 1));
      stored[row.substr(0, bar)] = id;
      stored_ids.push_back(id);
    }
  }
  const auto [acked, losses, retries, replayed] = CheckAcknowledged(sends, stored);
  EXPECT_EQ(losses, 0u);
  // Every stored message was acknowledged (a sender retries until it is):
  // nothing stored that nobody was told about, but the final marker.
  EXPECT_EQ(stored_ids.size(), acked + 1);
  EXPECT_GT(acked, static_cast<size_t>(kRounds) * 10) << "the senders hardly got going";

  // The subscribers: every stored message of the room, once, in order.
  int reconnects = 0, refused = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    Resumer& s = *streams[i];
    SCOPED_TRACE("stream " + std::to_string(i));
    EXPECT_TRUE(reached[i]) << "did not reach the final message by its deadline";
    std::vector<int64_t> got = MessageIds(s.events, room);
    EXPECT_EQ(got, stored_ids) << FirstDifference(got, stored_ids);
    EXPECT_TRUE(s.problems.empty()) << s.problems.size() << " problem(s), first: " << s.problems.front();
    EXPECT_GE(s.server_ends, events_kills) << "a kill of parley-events did not end its stream";
    reconnects += s.connections - 1;
    refused += s.refused;
  }
  int polls = 0, polls_refused = 0;
  for (size_t i = 0; i < pollers.size(); ++i) {
    Poller& p = pollers[i];
    SCOPED_TRACE("poller " + std::to_string(i));
    EXPECT_EQ(p.ids, stored_ids) << FirstDifference(p.ids, stored_ids);
    EXPECT_TRUE(p.problems.empty()) << p.problems.size() << " problem(s), first: " << p.problems.front();
    polls += p.polls;
    polls_refused += p.refused;
  }

  const double seconds = std::chrono::duration<double>(Clock::now() - test_start).count();
  std::printf(
      "crash test: %d rounds (%d worker (%d busy), %d pool master, %d parley-events kills) in %.1f s; "
      "%zu acknowledged sends, %d failed attempts retried (%d answered 200: stored before), %zu lost; "
      "%zu stored; streams: %d resumptions, "
      "%d refused attempts; polls: %d (%d refused)\n",
      worker_kills + master_kills + events_kills, worker_kills, busy_kills, master_kills, events_kills, seconds, acked,
      retries, replayed, losses, stored_ids.size(), reconnects, refused, polls, polls_refused);
  RecordProperty("acknowledged_sends", static_cast<int>(acked));
  RecordProperty("lost_sends", static_cast<int>(losses));
}

}  // namespace
}  // namespace parley::e2e
