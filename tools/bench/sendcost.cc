// parley-sendcost: the CPU cost of one send, in process, without sockets,
// nginx or fsync: what tools/bench/sendcost runs under `perf stat` to tell
// apart differences of a few percent that tools/bench/api cannot resolve on
// a busy machine (its sends/s move by more than that from run to run).
//
// It opens a fresh database in DIR (synchronous=NORMAL: WAL commits without
// an fsync, so the CPU is what is counted), makes two users with a session
// each and a room (public, or their DM), then runs N sends through
// Api::Handle, the worker's entry point: routing, authentication, JSON
// parsing, validation, the store's transaction with its checks, the insert,
// the event and the answer's JSON. Write quotas are off (Limits::WritesOff),
// as with PARLEY_LIMITS=off.
//
// It prints one line: the sends, their status, and the CPU microseconds
// per send measured around the loop alone (CLOCK_PROCESS_CPUTIME_ID);
// instructions per send come from perf stat over runs with N and with 0.
//
// Usage: parley-sendcost DIR N [public|dm]
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>

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

// A signed-in user made without Argon2 (its cost would swamp small runs):
// the hash is never checked here.
Result<std::pair<User, std::string>> SignedInUser(Store& store, const std::string& name) {
  PARLEY_ASSIGN_OR_RETURN(User u, store.CreateUser(name, "$argon2id$v=19$m=65536,t=2,p=1$bench$bench"));
  std::string token = NewToken();
  PARLEY_RETURN_IF_ERROR(store.CreateSession(u.id, TokenHash(token)));
  return std::make_pair(u, token);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: parley-sendcost DIR N [public|dm]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const long n = std::strtol(argv[2], nullptr, 10);
  const std::string where = argc == 4 ? argv[3] : "public";
  if (n < 0 || (where != "public" && where != "dm")) {
    std::fprintf(stderr, "usage: parley-sendcost DIR N [public|dm]\n");
    return 2;
  }
  auto db = Db::Open(dir + "/sendcost.db", 5000, Sync::kNormal);
  if (!db.ok()) return Fail("open", db.status());
  if (auto v = Migrate(**db); !v.ok()) return Fail("migrate", v.status());
  Limits limits;
  limits.WritesOff();
  Store store(**db, limits);
  fcgi::Notifier notifier("");  // no daemon to wake
  fcgi::Api api(store, notifier);

  auto alice = SignedInUser(store, "alice");
  auto bob = SignedInUser(store, "bob");
  if (!alice.ok()) return Fail("alice", alice.status());
  if (!bob.ok()) return Fail("bob", bob.status());
  int64_t room = 0;
  if (where == "dm") {
    auto dm = store.GetOrCreateDm(alice->first, "bob");
    if (!dm.ok()) return Fail("dm", dm.status());
    room = dm->first.id;
  } else {
    auto r = store.CreateRoom(alice->first, "bench", RoomKind::kPublic, std::nullopt);
    if (!r.ok()) return Fail("room", r.status());
    room = r->id;
  }

  fcgi::Request req;
  req.method = "POST";
  req.path = "/api/rooms/" + std::to_string(room) + "/messages";
  req.content_type = "application/json";
  req.authorization = "Bearer " + alice->second;
  req.remote_addr = "127.0.0.1";
  int status = 0;
  const double start = CpuUs();
  for (long i = 0; i < n; ++i) {
    req.body = "{\"text\":\"a message of a usual length, say forty characters " + std::to_string(i) + "\"}";
    fcgi::Response r = api.Handle(req);
    status = r.status;
    if (status != 201) {
      std::fprintf(stderr, "parley-sendcost: send %ld answered %d: %s\n", i, status, r.body.c_str());
      return 1;
    }
  }
  const double cpu_us = CpuUs() - start;
  std::printf("{\"sends\":%ld,\"room\":\"%s\",\"status\":%d,\"cpu_us_per_send\":%.2f}\n", n, where.c_str(), status,
              n > 0 ? cpu_us / static_cast<double>(n) : 0.0);
  return 0;
}
