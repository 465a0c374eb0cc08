#include "fcgi/writer.h"

#include <unistd.h>

#include <cstdlib>
#include <utility>
#include <vector>

#include "fcgi/response.h"
#include "fcgi/thread_name.h"
#include "schema/log.h"

namespace parley::fcgi {

Writer::Writer(Storage& store, Api& api, Notifier& notifier, Gate& gate, Metrics& metrics, Responder& responder,
               size_t worker)
    : store_(store), api_(api), notifier_(notifier), gate_(gate), metrics_(metrics), responder_(responder),
      worker_(worker), die_after_commit_(std::getenv("PARLEY_TEST_DIE_AFTER_COMMIT")) {}

Writer::~Writer() { Stop(); }

void Writer::Start() { thread_ = std::thread([this] { Loop(); }); }

void Writer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  queued_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Writer::Submit(std::unique_ptr<Exchange> ex) {
  metrics_.QueueDepth(worker_, 1);
  {
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [this] { return queue_.size() < kMaxQueued; });
    queue_.push_back(std::move(ex));
  }
  queued_.notify_one();
}

void Writer::Loop() {
  // Named like a serving request thread while it has writes, and after
  // them while its checkpoint runs (thread_name.h).
  ThreadName name("fcgi-writer");
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (queue_.empty()) name.Waiting();
      queued_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to answer
    }
    name.Serving();
    RunBatch();
    // After the batch, whose answers are with the responder: the checkpoint
    // it may have made due costs no request its latency (schema/db.h).
    if (Status st = store_.MaintainIfDue(); !st.ok()) LOG_WARN("checkpoint: %s", st.message().c_str());
  }
}

void Writer::RunBatch() {
  std::vector<std::unique_ptr<Exchange>> jobs;
  const uint64_t commits_before = store_.commits();
  // The seat before the writer lock, the order of every request thread
  // that writes on its own (register, login, uploads: worker.cc): a writer
  // holding the lock while it waited for a seat held by one of those,
  // itself waiting for the lock, stopped both until the busy timeout.
  Gate::Pass pass = gate_.EnterFirst();
  auto begun = store_.BeginBatch();
  Status result = begun.status();
  std::unique_ptr<Batch> batch = begun.ok() ? std::move(begun).value() : nullptr;
  if (batch) {
    // Take the queue one job at a time: a request that arrives while the
    // batch runs joins it rather than waiting for the next fsync.
    while (jobs.size() < kMaxBatch) {
      std::unique_ptr<Exchange> job;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.empty()) break;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      room_.notify_one();
      job->resp = job->admitted ? api_.Run(job->req, job->route, std::move(*job->admitted))
                                : api_.Handle(job->req, job->route);
      jobs.push_back(std::move(job));
    }
    pass.Leave();  // the fsync needs no core
    result = batch->Commit();
    if (result.ok() && die_after_commit_ != nullptr && unlink(die_after_commit_) == 0) _exit(137);
  } else {
    pass.Leave();
    // No batch (the lock or BEGIN timed out): everyone queued gets the error.
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& job : queue_) jobs.push_back(std::move(job));
    queue_.clear();
    room_.notify_all();
  }
  batch.reset();  // rolls back a batch whose commit failed, before the answers
  metrics_.Syncs(store_.commits() - commits_before);
  // Once per batch, and only for what was committed.
  const int64_t head = store_.TakeNotifyHead();
  if (result.ok() && head > 0) notifier_.Head(head);
  if (!result.ok()) {
    // A full disk or a lost database fails every batch, hundreds a second.
    if (uint64_t failed; failure_log_.Due(&failed)) {
      LOG_ERROR("write batch of %zu request(s) failed: %s (%llu batch(es) failed since the last such line, this "
                "one included)",
                jobs.size(), result.message().c_str(), static_cast<unsigned long long>(failed));
    }
    for (auto& job : jobs) job->resp = ErrorResponse(result);
  }
  if (!jobs.empty()) {
    metrics_.Batch(jobs.size(), result.ok());
    metrics_.QueueDepth(worker_, -static_cast<int64_t>(jobs.size()));
    responder_.Post(std::move(jobs));
  }
}

}  // namespace parley::fcgi
