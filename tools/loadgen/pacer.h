// Paces new connections: at most `rate` connection attempts per second, in
// FIFO order, so 12,000 subscribers do not SYN-flood nginx's accept queue
// (and a reconnect storm after a server restart is spread out the same way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "tools/loadgen/handles.h"

namespace parley::loadgen {

class Connectable {
 public:
  virtual ~Connectable() = default;
  // Called by the pacer when this client may open its connection.
  virtual void Connect() = 0;
};

class Pacer {
 public:
  Pacer(event_base* base, double rate);
  // Queues c; it is connected when its turn comes. The client must outlive
  // the pacer or be removed with Forget().
  void Enqueue(Connectable* c);
  void Clear() { queue_.clear(); }
  size_t queued() const { return queue_.size(); }

  void OnTick();  // libevent callback target

 private:
  EventPtr tick_;
  double rate_;
  double tokens_ = 1;
  int64_t last_ns_;
  std::deque<Connectable*> queue_;
};

}  // namespace parley::loadgen
