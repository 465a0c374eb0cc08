// The load of a chaos test (chaos_test.cc: crashes; netns_chaos_test.cc: cut
// links) and what it must prove at the end. Senders write to one room
// through nginx, each message retried with its client_id until a 2xx
// answers it (the idempotency contract); SSE streams and long-polls
// subscribe through nginx and reconnect wherever nginx sends them with
// their last id. At the end every acknowledged send must be stored once
// with its acknowledged id, nothing else, and every subscriber must have
// seen exactly the acknowledged ids, each once, ascending.
//
// Ownership and threading: a Traffic owns its threads, copies of the
// people they act as and their Seen records; the test thread starts and
// stops them (the destructor stops and joins them all, so an ASSERT that
// returns early leaves no thread behind). Ledger and Seen are shared with
// the threads under their own locks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster.h"

namespace parley::e2e {

struct Person {
  std::string name;
  std::string token;
};

// What the senders were answered: client_id -> message id, and what went
// wrong.
class Ledger {
 public:
  void Ack(const std::string& client_id, int64_t id);
  void Retried() { retries_.fetch_add(1); }
  void Fail(const std::string& what);
  size_t count();
  // Until `n` sends are acknowledged (false on timeout or on a failure).
  bool WaitCount(size_t n, std::chrono::milliseconds timeout);
  std::map<std::string, int64_t> acked();
  std::vector<std::string> failures();
  int retries() const { return retries_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t> acked_;
  std::vector<std::string> failures_;
  std::atomic<int> retries_{0};
};

// The message ids one subscriber received, in arrival order.
class Seen {
 public:
  void Add(int64_t id);
  void Reconnected() { reconnects_.fetch_add(1); }
  void Fail(const std::string& what);
  // What the subscriber last heard (an answer, an error, an end): printed
  // with a failed check, so that a subscriber that fell behind says why.
  void Heard(std::string what);
  std::string last_heard();
  int64_t max();
  std::vector<int64_t> ids();
  std::string failure();
  int reconnects() const { return reconnects_.load(); }

 private:
  std::mutex mu_;
  std::vector<int64_t> ids_;
  int64_t max_ = 0;
  std::string failure_;
  std::string heard_;
  std::chrono::steady_clock::time_point heard_at_{};
  std::atomic<int> reconnects_{0};
};

// Where the subscribers' ids differ from the acknowledged ones, in a line;
// "" when they are equal.
std::string Compare(const std::vector<int64_t>& seen, const std::vector<int64_t>& want);

struct TrafficOptions {
  std::chrono::milliseconds send_gap{40};        // each sender's pause between messages
  long send_timeout_ms = 5000;                   // a request lost in a fault is retried after this
  std::chrono::milliseconds recover_within{20000};  // a send gets its 2xx within this, or fails
  int poll_timeout_s = 3;                        // the long-polls' timeout=
  long poll_client_timeout_ms = 15000;           // a poll with no answer by then is retried
  // A stream that carried nothing (not even a heartbeat comment) this long
  // is given up and reopened with its last id: a cut link sends no reset,
  // the stream just goes silent. 0: only an end or an error reconnects.
  std::chrono::milliseconds stream_silence{0};
};

class Traffic {
 public:
  Traffic(const Cluster& cluster, TrafficOptions options) : cluster_(cluster), options_(options) {}
  Traffic(const Traffic&) = delete;
  Traffic& operator=(const Traffic&) = delete;
  ~Traffic() { StopAll(); }

  // Registers an owner, `senders` senders and `streams` + `pollers`
  // subscribers through nginx, makes a public room they all join, and
  // starts the subscribers (from a daemon's head taken before the first
  // send) and the senders. "" when all went well, else what failed.
  std::string Start(int senders, int streams, int pollers);
  // Stops and joins the senders (each finishes the message it holds).
  void StopSenders();
  // The senders, then the subscribers. Idempotent.
  void StopAll();

  Ledger& ledger() { return ledger_; }
  // The proof, after the faults: stops the senders, then "" when no send
  // failed, each acknowledged send is stored once under its id and nothing
  // else is (the room's history through nginx), and every subscriber,
  // once caught up (bounded by `catch_up`), saw exactly the acknowledged
  // ids ascending; else what differs. Stops the subscribers.
  std::string Verify(std::chrono::milliseconds catch_up);
  int reconnects();

 private:
  // The first `streams` of `subscribers` stream, the others long-poll, all
  // from `cursor`.
  void StartSubscribers(const std::vector<Person>& subscribers, int streams, int64_t cursor);
  void StartSenders(const std::vector<Person>& senders);
  void Send(int sender, const Person& p);
  void Poll(const Person& p, int64_t cursor, Seen& seen);
  void Stream(const Person& p, int64_t cursor, Seen& seen);
  std::string CheckStored();
  std::string CheckDelivered(std::chrono::milliseconds catch_up);
  bool OfRoom(int64_t room_id) const { return room_id == room_; }

  const Cluster& cluster_;
  TrafficOptions options_;
  int64_t room_ = 0;
  Ledger ledger_;
  Person owner_;
  std::vector<Person> senders_, subscribers_;
  int streams_ = 0;
  std::vector<std::unique_ptr<Seen>> seen_;
  std::atomic<bool> stop_senders_{false};
  std::atomic<bool> stop_subscribers_{false};
  std::vector<std::thread> sender_threads_;
  std::vector<std::thread> subscriber_threads_;
};

}  // namespace parley::e2e
