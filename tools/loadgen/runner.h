// One run of the load generator, in phases on one libevent loop:
//
//   connect  every receiver and sender queued on the pacer; ends when all
//            receivers are live or have given up (or at the connect bound)
//   hold     (--hold-only) keep the connections for --duration, count them
//   send     --rate messages/s round-robin over the senders for --duration
//   drain    until every acknowledged message reached every receiver that
//            was subscribed when it was sent, or --drain seconds
//
// then one JSON report line. The run always ends by itself: the phases are
// bounded, and a SIGALRM watchdog ends the process a few seconds after the
// sum of the bounds even if the loop were stuck.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tools/loadgen/context.h"
#include "tools/loadgen/handles.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/poller.h"
#include "tools/loadgen/sender.h"
#include "tools/loadgen/subscriber.h"

namespace parley::loadgen {

class Runner {
 public:
  explicit Runner(Options opt) : opt_(std::move(opt)) {}
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Runs every phase; returns the exit code. The report goes to stdout.
  int Run(const std::vector<std::string>& tokens);
  // Seconds after which the watchdog fires.
  double Bound() const;

  void OnTick();  // libevent callback target

 private:
  enum class Phase { kConnect, kHold, kSend, kDrain, kDone };
  void Enter(Phase p);
  bool ConnectSettled() const;
  bool Drained() const;
  void SendDue();
  std::string Report() const;

  Options opt_;
  Context ctx_;
  EventBasePtr base_;
  std::unique_ptr<Pacer> pacer_;
  EventPtr tick_;
  std::vector<std::unique_ptr<Subscriber>> subs_;
  std::vector<std::unique_ptr<Poller>> pollers_;
  std::vector<std::unique_ptr<Sender>> senders_;
  Phase phase_ = Phase::kConnect;
  double connect_bound_s_ = 0;
  int64_t start_mono_ = 0;
  int64_t phase_mono_ = 0;
  int64_t connected_mono_ = 0;    // end of the connect phase
  int64_t send_end_mono_ = 0;
  int64_t drain_check_mono_ = 0;
  uint64_t due_ = 0;              // sends scheduled so far in the send phase
  size_t next_sender_ = 0;
  size_t held_sse_ = 0;           // --hold-only: live at the end of the hold
  size_t held_poll_ = 0;
};

}  // namespace parley::loadgen
