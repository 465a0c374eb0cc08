#include "fcgi/responder.h"

#include <utility>

#include "fcgi/thread_name.h"
#include "schema/log.h"

namespace parley::fcgi {

Responder::~Responder() { Stop(); }

void Responder::Start() { thread_ = std::thread([this] { Loop(); }); }

void Responder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  posted_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Responder::Post(std::vector<std::unique_ptr<Exchange>> answered) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(answered));
  }
  posted_.notify_one();
}

void Responder::Loop() {
  // Named like a serving request thread while it holds answers, so the
  // e2e tests' idleness check sees them (thread_name.h).
  ThreadName name("fcgi-answer");
  for (;;) {
    std::vector<std::unique_ptr<Exchange>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (queue_.empty()) name.Waiting();
      posted_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to answer
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    name.Serving();
    for (auto& ex : batch) {
      ex->Answer(ex->resp, metrics_);
      LOG_DEBUG("%s %s -> %d", ex->req.method.c_str(), ex->req.path.c_str(), ex->resp.status);
    }
  }
}

}  // namespace parley::fcgi
