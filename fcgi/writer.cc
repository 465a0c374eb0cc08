#include "fcgi/writer.h"

#include <pthread.h>

#include <vector>

#include "fcgi/response.h"
#include "schema/log.h"

namespace parley::fcgi {

Writer::Writer(Storage& store, Api& api, Notifier& notifier, Gate& gate, Metrics& metrics)
    : store_(store), api_(api), notifier_(notifier), gate_(gate), metrics_(metrics) {}

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

Response Writer::Submit(const Request& req, const RouteMatch& route) {
  Job job{&req, &route, {}, false};
  metrics_.QueueDepth(1);
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&job);
  queued_.notify_one();
  answered_.wait(lock, [&job] { return job.done; });
  lock.unlock();
  metrics_.QueueDepth(-1);
  return std::move(job.resp);
}

void Writer::Loop() {
  pthread_setname_np(pthread_self(), "fcgi-writer");
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      queued_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to answer
    }
    RunBatch();
    // After the answers: the checkpoint this batch may have made due costs
    // no request its latency (schema/db.h).
    if (Status st = store_.MaintainIfDue(); !st.ok()) LOG_WARN("checkpoint: %s", st.message().c_str());
  }
}

void Writer::RunBatch() {
  std::vector<Job*> jobs;
  const uint64_t commits_before = store_.commits();
  auto begun = store_.BeginBatch();
  Status result = begun.status();
  std::unique_ptr<Batch> batch = begun.ok() ? std::move(begun).value() : nullptr;
  if (batch) {
    Gate::Pass pass = gate_.EnterFirst();
    // Take the queue one job at a time: a request that arrives while the
    // batch runs joins it rather than waiting for the next fsync.
    while (jobs.size() < kMaxBatch) {
      Job* job = nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.empty()) break;
        job = queue_.front();
        queue_.pop_front();
      }
      job->resp = api_.Handle(*job->req, *job->route);
      jobs.push_back(job);
    }
    pass.Leave();  // the fsync needs no core
    result = batch->Commit();
  } else {
    // No batch (the lock or BEGIN timed out): everyone queued gets the error.
    std::lock_guard<std::mutex> lock(mu_);
    jobs.assign(queue_.begin(), queue_.end());
    queue_.clear();
  }
  batch.reset();  // rolls back a batch whose commit failed, before the answers
  metrics_.Syncs(store_.commits() - commits_before);
  // Once per batch, and only for what was committed.
  const int64_t head = store_.TakeNotifyHead();
  if (result.ok() && head > 0) notifier_.Head(head);
  if (!result.ok()) {
    LOG_ERROR("write batch of %zu request(s) failed: %s", jobs.size(), result.message().c_str());
    for (Job* job : jobs) job->resp = ErrorResponse(result);
  }
  if (!jobs.empty()) metrics_.Batch(jobs.size(), result.ok());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job* job : jobs) job->done = true;
  }
  answered_.notify_all();
}

}  // namespace parley::fcgi
