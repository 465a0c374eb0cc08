// parley-sendcost: the CPU cost of one send, in process, without sockets,
// nginx or fsync: what tools/bench/sendcost runs under `perf stat` and
// callgrind to tell apart differences of a few percent that tools/bench/api
// cannot resolve on a busy machine (its sends/s move by more than that from
// run to run).
//
// It opens the database in DIR (synchronous=NORMAL: WAL commits without an
// fsync, so the CPU is what is counted). A fresh DIR gets two users (alice,
// bob) with a room (public, or their DM); a DIR made by `prefill` already
// holds them and K messages, so the search index has the size whose merges
// a send pays for. Then N sends through Api::Handle, the worker's entry
// point: routing, authentication, JSON parsing, validation, the store's
// transaction with its checks, the insert, mentions, the event and the
// answer's JSON. With --batch B, B sends share one WriteBatch as the
// worker's writer thread runs them under load (fcgi/writer.h), and after
// each commit Storage::MaintainIfDue runs, as the writer runs it: the work
// done at quiet points is counted with the sends. Write quotas are off
// (Limits::WritesOff), as with PARLEY_LIMITS=off.
//
// Text: 4 to 14 words drawn (Zipf-like) from 4,000 made-up words of 2 to 10
// letters, and "@bob" in one send of ten: a realistic load for the search
// index's tokens and prefixes. The same seed every run, so callgrind counts
// repeat exactly.
//
// --no-index: the same build without the search index's work in a send
// (tools/bench/sendcost's "noindex"): the triggers that note a message for
// the index are dropped and nothing runs before COMMIT, as
// PARLEY_BENCH_NO_FTS does to tools/bench/api's stack. --index-every R: a
// commit indexes the waiting messages once R were sent since the last one
// that did (Store::IndexEvery; default Store::kIndexEveryRows; 1: each
// commit its own, as migration 009 did).
//
// --reads: N history reads instead of N sends, through Api::Handle as
// well: alice's GET of the room's latest 50 messages, the page
// tools/bench/history.lua reads (prefill the room first).
//
// It prints one line: the sends (or reads), their status, and the CPU
// microseconds per request measured around the loop alone
// (CLOCK_PROCESS_CPUTIME_ID).
//
// Usage: parley-sendcost DIR N [public|dm] [--batch B] [--no-index] [--index-every R] [--reads]
//        parley-sendcost prefill DIR K [public|dm]
#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fcgi/api.h"
#include "fcgi/notifier.h"
#include "schema/crypto.h"
#include "schema/db.h"
#include "schema/migrate.h"
#include "schema/store.h"

using namespace parley;

namespace {

double CpuUs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_nsec) / 1e3;
}

int Fail(const char* what, const Status& st) {
  std::fprintf(stderr, "parley-sendcost: %s: %s\n", what, st.message().c_str());
  return 1;
}

int Usage() {
  std::fprintf(stderr,
               "usage: parley-sendcost DIR N [public|dm] [--batch B] [--no-index] [--index-every R] [--reads]\n"
               "       parley-sendcost prefill DIR K [public|dm]\n");
  return 2;
}

// Messages as people write them, the same for every run with one seed.
class TextMaker {
 public:
  explicit TextMaker(uint32_t seed) : rng_(seed) {
    std::mt19937 words_rng(1);  // one vocabulary for the prefill and the sends
    const char* kSyllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "pe", "da",
                                "an", "er", "is", "on", "ul", "st", "tr", "ch", "ba", "go"};
    for (int w = 0; w < kWords; ++w) {
      std::string word;
      const int syllables = 1 + static_cast<int>(words_rng() % 5);
      for (int k = 0; k < syllables; ++k) word += kSyllables[words_rng() % 20];
      words_.push_back(word);
    }
    // Zipf-like (s = 1): the word of rank r drawn with weight 1/r.
    std::vector<double> weights;
    for (int r = 1; r <= kWords; ++r) weights.push_back(1.0 / r);
    pick_ = std::discrete_distribution<int>(weights.begin(), weights.end());
  }
  std::string Next() {
    std::string text;
    const int n = 4 + static_cast<int>(rng_() % 11);
    for (int k = 0; k < n; ++k) {
      if (k) text += ' ';
      text += words_[static_cast<size_t>(pick_(rng_))];
    }
    if (++count_ % 10 == 0) text += " @bob";
    return text;
  }

 private:
  static constexpr int kWords = 4000;
  std::mt19937 rng_;
  std::vector<std::string> words_;
  std::discrete_distribution<int> pick_;
  long count_ = 0;
};

// A signed-in user made without Argon2 (its cost would swamp small runs):
// the hash is never checked here.
Result<User> BenchUser(Store& store, const std::string& name) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> found, store.FindUser(name));
  if (found) return *found;
  return store.CreateUser(name, "$argon2id$v=19$m=65536,t=2,p=1$bench$bench");
}

struct Bench {
  std::unique_ptr<Db> db;
  std::unique_ptr<Store> store;
  User alice, bob;
  int64_t room = 0;
};

// Opens DIR's database, making the users and the room unless a prefill
// made them already (the room is then the only one alice has).
Result<Bench> OpenBench(const std::string& dir, const std::string& where) {
  Bench b;
  PARLEY_ASSIGN_OR_RETURN(b.db, Db::Open(dir + "/sendcost.db", 5000, Sync::kNormal));
  PARLEY_RETURN_IF_ERROR(Migrate(*b.db).status());
  Limits limits;
  limits.WritesOff();
  b.store = std::make_unique<Store>(*b.db, limits);
  PARLEY_ASSIGN_OR_RETURN(b.alice, BenchUser(*b.store, "alice"));
  PARLEY_ASSIGN_OR_RETURN(b.bob, BenchUser(*b.store, "bob"));
  if (where == "dm") {
    PARLEY_ASSIGN_OR_RETURN(auto dm, b.store->GetOrCreateDm(b.alice, "bob"));
    b.room = dm.first.id;
    return b;
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<Room> rooms, b.store->MyRooms(b.alice));
  for (const Room& r : rooms) {
    if (r.name == "bench") b.room = r.id;
  }
  if (b.room == 0) {
    PARLEY_ASSIGN_OR_RETURN(Room r, b.store->CreateRoom(b.alice, "bench", RoomKind::kPublic, std::nullopt));
    PARLEY_RETURN_IF_ERROR(b.store->Join(b.bob, r.id).status());
    b.room = r.id;
  }
  return b;
}

// K messages through Store::Send in batches of 100 (one index segment
// each, merged as the index's settings merge them), so the index a send
// then meets was built the way a server builds it.
int Prefill(const std::string& dir, long k, const std::string& where) {
  auto b = OpenBench(dir, where);
  if (!b.ok()) return Fail("open", b.status());
  TextMaker text(2);
  for (long done = 0; done < k;) {
    auto batch = b->store->BeginBatch();
    if (!batch.ok()) return Fail("batch", batch.status());
    for (int i = 0; i < 100 && done < k; ++i, ++done) {
      auto sent = b->store->Send(done % 2 ? b->bob : b->alice, b->room, text.Next(), std::nullopt);
      if (!sent.ok()) return Fail("prefill send", sent.status());
    }
    if (Status st = (*batch)->Commit(); !st.ok()) return Fail("prefill commit", st);
    if (Status st = b->store->MaintainIfDue(); !st.ok()) return Fail("prefill maintain", st);
  }
  if (Status st = b->db->ExecScript("PRAGMA wal_checkpoint(TRUNCATE)"); !st.ok()) return Fail("checkpoint", st);
  std::printf("{\"prefill\":%ld,\"room\":\"%s\"}\n", k, where.c_str());
  return 0;
}

// The "noindex" build of a send: nothing notes a message for the index
// and nothing runs before COMMIT.
Status DropIndexWork(Db& db) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db, Transaction::Mode::kWrite));
  db.SetBeforeCommit({});
  PARLEY_RETURN_IF_ERROR(db.ExecScript(
      "DROP TRIGGER messages_fts_insert; DROP TRIGGER messages_fts_update; DROP TRIGGER messages_fts_delete;"));
  return tx->Commit();
}

// Alice's request to the room's messages: a send (POST) or a read (GET).
fcgi::Request MessagesRequest(const char* method, int64_t room, const std::string& token) {
  fcgi::Request req;
  req.method = method;
  req.path = "/api/rooms/" + std::to_string(room) + "/messages";
  req.authorization = "Bearer " + token;
  req.remote_addr = "127.0.0.1";
  return req;
}

// N reads of the room's latest page, as alice.
int Reads(fcgi::Api& api, int64_t room, const std::string& token, long n, const std::string& where) {
  fcgi::Request req = MessagesRequest("GET", room, token);
  req.query = "limit=50";
  int status = 0;
  size_t bytes = 0;
  const double start = CpuUs();
  for (long i = 0; i < n; ++i) {
    fcgi::Response r = api.Handle(req);
    status = r.status;
    bytes = r.body.size();
    if (status != 200) {
      std::fprintf(stderr, "parley-sendcost: read %ld answered %d: %s\n", i, status, r.body.c_str());
      return 1;
    }
  }
  const double cpu_us = CpuUs() - start;
  std::printf("{\"reads\":%ld,\"room\":\"%s\",\"status\":%d,\"bytes\":%zu,\"cpu_us_per_read\":%.2f}\n", n,
              where.c_str(), status, bytes, n > 0 ? cpu_us / static_cast<double>(n) : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "prefill") {
    if (args.size() < 3 || args.size() > 4) return Usage();
    const long k = std::strtol(args[2].c_str(), nullptr, 10);
    const std::string where = args.size() == 4 ? args[3] : "public";
    if (k < 0 || (where != "public" && where != "dm")) return Usage();
    return Prefill(args[1], k, where);
  }
  if (args.size() < 2) return Usage();
  const std::string dir = args[0];
  const long n = std::strtol(args[1].c_str(), nullptr, 10);
  std::string where = "public";
  long batch_size = 1;
  bool index = true;
  long index_every = Store::kIndexEveryRows;
  bool reads = false;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "public" || args[i] == "dm") {
      where = args[i];
    } else if (args[i] == "--reads") {
      reads = true;
    } else if (args[i] == "--no-index") {
      index = false;
    } else if (args[i] == "--batch" && i + 1 < args.size()) {
      batch_size = std::strtol(args[++i].c_str(), nullptr, 10);
    } else if (args[i] == "--index-every" && i + 1 < args.size()) {
      index_every = std::strtol(args[++i].c_str(), nullptr, 10);
    } else {
      return Usage();
    }
  }
  if (n < 0 || batch_size < 1 || index_every < 1) return Usage();
  auto b = OpenBench(dir, where);
  if (!b.ok()) return Fail("open", b.status());
  if (!index) {
    if (Status st = DropIndexWork(*b->db); !st.ok()) return Fail("no index", st);
  }
  Store& store = *b->store;
  if (index) store.IndexEvery(index_every);
  const std::string token = NewToken();
  if (Status st = store.CreateSession(b->alice.id, TokenHash(token)); !st.ok()) return Fail("session", st);
  fcgi::Notifier notifier("");  // no daemon to wake
  fcgi::Api api(store, notifier);

  if (reads) return Reads(api, b->room, token, n, where);
  fcgi::Request req = MessagesRequest("POST", b->room, token);
  req.content_type = "application/json";
  TextMaker text(3);
  int status = 0;
  const double start = CpuUs();
  for (long i = 0; i < n;) {
    std::unique_ptr<Batch> batch;
    if (batch_size > 1) {
      auto begun = store.BeginBatch();
      if (!begun.ok()) return Fail("batch", begun.status());
      batch = std::move(begun).value();
    }
    for (long k = 0; k < batch_size && i < n; ++k, ++i) {
      req.body = "{\"text\":\"" + text.Next() + "\"}";
      fcgi::Response r = api.Handle(req);
      status = r.status;
      if (status != 201) {
        std::fprintf(stderr, "parley-sendcost: send %ld answered %d: %s\n", i, status, r.body.c_str());
        return 1;
      }
    }
    if (batch) {
      if (Status st = batch->Commit(); !st.ok()) return Fail("commit", st);
    }
    if (Status st = store.MaintainIfDue(); !st.ok()) return Fail("maintain", st);
  }
  const double cpu_us = CpuUs() - start;
  std::printf("{\"sends\":%ld,\"room\":\"%s\",\"batch\":%ld,\"index\":%s,\"index_every\":%ld,\"status\":%d,"
              "\"cpu_us_per_send\":%.2f}\n",
              n, where.c_str(), batch_size, index ? "true" : "false", index_every, status,
              n > 0 ? cpu_us / static_cast<double>(n) : 0.0);
  return 0;
}
