// Writer: the one thread of a worker process that runs its write requests,
// as many at a time as are waiting, in one WriteBatch (group commit).
//
// Design note. LevelDB's DBImpl::Write queues writers and lets the one in
// front take the others' updates into one log write and one sync. Here the
// request threads queue their write requests (on PostgreSQL admitted
// first: Api::Admit on the thread's read lane, worker.cc), and a dedicated
// thread is always the one in front: it waits for the first request, takes
// the writer lock and BEGIN IMMEDIATE (schema/write_batch.h), runs every
// request that is queued by then, or arrives while it runs, through the Api
// (the handler alone, Api::Run, for an admitted one), each store write in
// its own savepoint, up to kMaxBatch; then one COMMIT
// (one fsync under synchronous=FULL), one wake-up datagram for the highest
// event id, and only then the answers. While it commits, the next requests
// queue up behind it, so the batch grows with the load: one request alone
// waits for one fsync, as before; many share it. The answers are then
// handed to the responder (responder.h): no thread waits for its batch.
//
// Threading: Submit() is called by request threads; everything else of the
// batch (its Db, Store, Api and Notifier) belongs to the writer thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "fcgi/api.h"
#include "fcgi/exchange.h"
#include "fcgi/gate.h"
#include "fcgi/http.h"
#include "fcgi/metrics.h"
#include "fcgi/notifier.h"
#include "fcgi/responder.h"
#include "schema/log.h"
#include "schema/storage.h"

namespace parley::fcgi {

class Writer {
 public:
  // Bounds the time one batch holds the writer lock, which other
  // processes' writers and checkpoints wait for.
  static constexpr size_t kMaxBatch = 256;
  // Writes that may wait for a batch; a request thread that would queue one
  // more waits for room (each holds a connection and up to 16 KiB of body).
  static constexpr size_t kMaxQueued = 4 * kMaxBatch;

  // store, api and notifier are used by the writer thread only from Start().
  // The writer takes a pass of `gate` ahead of queued requests, before the
  // writer lock, while it runs a batch's requests, and gives it back for the
  // COMMIT's fsync.
  // worker: this process's slot in the pool, for the queue's gauge (metrics.h).
  Writer(Storage& store, Api& api, Notifier& notifier, Gate& gate, Metrics& metrics, Responder& responder,
         size_t worker);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Start();
  // Answers every request queued so far, then ends the thread.
  void Stop();
  // Queues ex (admitted, or to be admitted by the writer) to run in the
  // next batch and returns; the responder answers it once that batch has
  // committed (or with the commit's error).
  void Submit(std::unique_ptr<Exchange> ex);

 private:
  void Loop();
  // Runs one batch over the jobs queued (and arriving), answers them.
  void RunBatch();

  Storage& store_;
  Api& api_;
  Notifier& notifier_;
  Gate& gate_;
  Metrics& metrics_;
  Responder& responder_;
  const size_t worker_;
  std::mutex mu_;
  std::condition_variable queued_;  // a write arrived, or stop
  std::condition_variable room_;    // the queue went below kMaxQueued
  std::deque<std::unique_ptr<Exchange>> queue_;  // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  LogEverySecond failure_log_;         // writer thread only
  // PARLEY_TEST_DIE_AFTER_COMMIT (tests only): a file whose removal, by
  // the first writer to commit a batch after it appears, ends that
  // process before it answers: the death between a commit and its answer
  // that nginx's replay must survive (tests/e2e/pool_test.cc).
  const char* die_after_commit_ = nullptr;
  std::thread thread_;
};

}  // namespace parley::fcgi
