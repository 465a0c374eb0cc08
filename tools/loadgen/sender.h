// A sender: one kept-alive connection, one request at a time. Parley:
// POST /api/rooms/{room}/messages {"text","client_id"}; Nchan: POST PUBURL
// with the text as the body. Each text carries a stamp (stamp.h) written at
// the moment the request is sent.
//
// A send that finds the previous request still out is counted late and
// queued behind it (the run's rate is kept; the latency of a late message is
// measured from when it was actually sent). A request that fails before any
// byte of a response (a kept-alive connection the server had just closed) is
// retried once with the same client_id, which Parley answers with the stored
// message, never a second copy.
#pragma once

#include <cstdint>
#include <string>

#include "tools/loadgen/context.h"
#include "tools/loadgen/http_conn.h"
#include "tools/loadgen/pacer.h"

namespace parley::loadgen {

class Sender : public HttpHandler, public Connectable {
 public:
  Sender(Context& ctx, uint64_t index, std::string token);
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  void Start();                // queue the warm-up connection for the pacer
  void Connect() override;     // warm-up: open the connection with a cheap request
  void Due();                  // one message is due now
  void StopSending() { backlog_ = 0; }
  bool ready() const { return ready_; }
  bool idle() const { return !conn_.busy(); }

 private:
  void OnHead(const ResponseParser& r) override;
  void OnBody(std::string_view) override {}
  void OnDone(const ResponseParser& r) override;
  void OnFail(HttpFailure f) override;

  void SendNext();
  void Write();
  void Finished();

  Context& ctx_;
  uint64_t index_;
  std::string token_;
  HttpConn conn_;
  bool ready_ = false;         // the warm-up request came back
  bool warming_ = false;
  uint64_t seq_ = 0;
  uint64_t backlog_ = 0;
  std::string request_;        // the request in flight (kept for the retry)
  uint64_t g_ = 0;
  int64_t sent_mono_ = 0;
  int attempts_ = 0;
  int status_ = 0;
};

}  // namespace parley::loadgen
