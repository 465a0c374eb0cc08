// The base of the parley-events tests: the stack with the push daemon (extra
// daemon flags per test class), SSE streams and long-polls through nginx,
// /events/stats, the sqlite3 shell and parleyctl on the test's database, and
// Resumer, a subscriber that keeps resuming from its last id.
//
// Every wait here has a deadline; helpers that set a test up throw
// SetupError (see fixture.h), except in Resumer, which runs on its own
// thread and reports problems as data instead.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fixture.h"
#include "sse.h"

namespace parley::e2e {

using namespace std::chrono_literals;

// One event of a poll answer.
struct PolledEvent {
  std::optional<int64_t> id;  // absent for ephemeral events
  std::string type;
  Json data;
};

struct PollResult {
  Response response;
  std::chrono::milliseconds elapsed{0};
  std::string epoch;
  std::vector<PolledEvent> events;
  int64_t next = -1;
  bool more = false;
  bool well_formed = false;  // 200 with epoch, events[], next and more
};

class EventsTest : public StackTest {
 protected:
  // Extra parley-events flags for every test of the class.
  virtual std::vector<std::string> EventsFlags() const { return {}; }
  StackOptions Options() const override;

  // Opens GET /events/stream (plus `query`) with the token as Bearer and
  // waits for `hello`; throws SetupError if it does not come within 5 s.
  // First waits until the daemon has caught up with the database (Head).
  std::unique_ptr<SseStream> Subscribe(const std::string& token, const std::string& query = "",
                                       const HeaderList& headers = {});
  // Opens a stream without waiting for anything; throws if the socket fails.
  std::unique_ptr<SseStream> OpenStream(SseStream::Options options);
  // GET /events/poll?QUERY with the token as Bearer (no token: none sent).
  PollResult Poll(const std::string& token, const std::string& query);
  // GET /events/stats (JSON), parsed; throws unless 200.
  Json Stats();
  // The head of the database (GET /api/health), and the daemon's head once
  // it has caught up with it: a cursor taken before the daemon has read
  // the events of the test's own set-up (registrations, joins) would see
  // them arrive later as if they were new.
  int64_t DbHead();
  int64_t Head(const std::string& token);
  // Runs SQL on the test's database with the sqlite3 shell, or psql on
  // PostgreSQL; returns its output ("a|b" lines). Throws on a non-zero exit.
  // SQL that only SQLite understands belongs in a PARLEY_E2E_SQLITE_ONLY test.
  // PostgreSQL: `url`, when given, instead of the stack's (a test that has
  // taken the stack's way to the cluster away, SetPostgresReachable).
  std::string Sql(const std::string& sql, const std::string& url = "");
  // PREFIX1..PREFIXn created with parleyctl (one password hash for all),
  // with one session each: (username, token) pairs.
  std::vector<std::pair<std::string, std::string>> BulkUsers(const std::string& prefix, int n);
  // Runs parleyctl on the test's database with `env` ("NAME=value") added;
  // returns its output. Throws on a non-zero exit.
  std::string Ctl(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
  // A signed-in User for a token made outside the API.
  User AsUser(const std::string& name, const std::string& token);
  // Sends n messages to `room` as `from`, one every `pace`, each text
  // `prefix` and its place in *sent, whose ids it appends there: a steady
  // stream of sends across a daemon's stop, crash or upgrade.
  void SendPaced(User& from, int64_t room, int n, std::chrono::milliseconds pace, const std::string& prefix,
                 std::vector<int64_t>* sent);
  // Waits (bounded) until the daemon's head has reached `id` (it has read
  // the event from the log and fanned it out).
  void WaitHead(const std::string& token, int64_t id, std::chrono::milliseconds timeout = 3s);

  // Waits (bounded) until pred(Stats()) holds; returns the last stats seen.
  template <typename Pred>
  Json WaitForStats(Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    Json s = Stats();
    while (!pred(s) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      s = Stats();
    }
    return s;
  }

 private:
  int runs_ = 0;
};

// A subscriber that keeps one stream open and, whenever it ends (the server
// closed it, or the subscriber dropped it on purpose after a random time),
// opens a new one that resumes from the last id it received, cycling through
// the three ways to say so (Last-Event-ID header, ?last_event_id=,
// ?lastEventId=). A refused attempt (502: nginx found no daemon; 503: it is
// stopping)
// is retried after 100 ms. It stops once it has an event with an id at or
// past FinishAt(), or at its deadline.
//
// Threading: runs on its own thread; results are read after Join().
class Resumer {
 public:
  struct Options {
    int port = 0;
    std::string token;
    std::optional<int64_t> cursor;           // first Last-Event-ID; none: start at the head
    std::chrono::milliseconds min_life{0};   // > 0: drop each connection after a random
    std::chrono::milliseconds max_life{0};   //   time in [min_life, max_life]
    std::chrono::milliseconds deadline{30000};
    uint32_t seed = 1;
  };
  explicit Resumer(Options options) : options_(std::move(options)) {}
  Resumer(const Resumer&) = delete;
  Resumer& operator=(const Resumer&) = delete;
  ~Resumer();

  void Start();
  // Until the first stream has said hello.
  bool WaitConnected(std::chrono::milliseconds timeout);
  // While on, a stream that is open stays open (no drop on purpose): a test
  // that is about to end streams from the server side (a kill) holds them,
  // waits until each is open (WaitStreaming), and knows each must end.
  void Hold(bool on) { hold_ = on; }
  // Until a stream is open now (said hello, not ended); false after `timeout`.
  bool WaitStreaming(std::chrono::milliseconds timeout);
  void FinishAt(int64_t id) { target_.store(id); }
  // Waits for the thread (it ends by its deadline); true if it reached the target.
  bool Join();

  // Results, valid after Join().
  std::vector<SseEvent> events;        // durable events of every connection, in order
  std::vector<SseEvent> ephemeral;     // typing, presence
  int connections = 0;                 // streams that said hello
  int refused = 0;                     // attempts that got no 200 stream
  int server_ends = 0;                 // streams the server ended
  int server_ends_with_retry = 0;      // ... with a `retry:` line after hello
  std::vector<std::string> problems;   // resets, ids out of order, errors

 private:
  void Run();
  Options options_;
  std::thread thread_;
  std::atomic<int64_t> target_{INT64_MAX};
  std::atomic<bool> connected_{false};
  std::atomic<bool> streaming_{false};
  std::atomic<bool> hold_{false};
  std::atomic<bool> stop_{false};
  bool reached_ = false;
};

// The first of `candidates` that is executable, else the bare name (PATH).
std::string FindProgram(const std::vector<std::string>& candidates, const std::string& name);

// Whether a stream has had a presence notice saying user_id came online
// (online true) or went offline (false).
bool SawPresence(const SseState& st, int64_t user_id, bool online);

// The room an event's data is about: data.room_id, else data.room.id, else 0.
int64_t RoomOf(const Json& data);

// "a, b, c" for assertion messages (the first `max` items).
std::string IdList(const std::vector<int64_t>& ids, size_t max = 40);
// The first index where two id lists differ, described, or "" if equal.
std::string FirstDifference(const std::vector<int64_t>& got, const std::vector<int64_t>& want);

}  // namespace parley::e2e
