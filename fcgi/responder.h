// Responder: the thread of a worker process that answers its writes once
// their batch is durable (exchange.h).
//
// Design note. The writer could answer its batch itself, but each answer is
// a write and a close on a socket: done on the writer's thread they would
// delay the next batch, which is the one serial path every send of the
// process goes through. Handed over as one list per batch (one wake-up),
// they go out while the next batch runs.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fcgi/exchange.h"
#include "fcgi/metrics.h"

namespace parley::fcgi {

class Responder {
 public:
  explicit Responder(Metrics& metrics) : metrics_(metrics) {}
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void Start();
  // Answers everything posted so far, then ends the thread.
  void Stop();
  // Answers each exchange with its resp, in order.
  void Post(std::vector<std::unique_ptr<Exchange>> answered);

 private:
  void Loop();

  Metrics& metrics_;
  std::mutex mu_;
  std::condition_variable posted_;
  std::deque<std::vector<std::unique_ptr<Exchange>>> queue_;  // guarded by mu_
  bool stop_ = false;                                          // guarded by mu_
  std::thread thread_;
};

}  // namespace parley::fcgi
