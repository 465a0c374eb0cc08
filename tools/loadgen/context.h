// What every client of one run shares: the loop, the settings, the ledger of
// sent messages, the latency histogram and the counters that become the
// report. Single-threaded; owned by the Runner, which outlives all clients.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "tools/loadgen/clock.h"
#include "tools/loadgen/histogram.h"
#include "tools/loadgen/http_conn.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/pacer.h"
#include "tools/loadgen/stamp.h"

namespace parley::loadgen {

struct Counters {
  uint64_t deliveries = 0;   // first deliveries of this run's messages
  uint64_t duplicates = 0;
  uint64_t foreign = 0;      // stamps of another run (or unknown g)
  uint64_t reconnects = 0;   // established streams that dropped and came back
  uint64_t polls_completed = 0;
  uint64_t polls_in_window = 0;  // completed while sends were flowing
  uint64_t sends_ok = 0;
  uint64_t sends_failed = 0;
  uint64_t sends_late = 0;   // due while the sender's previous request was still out
  uint64_t sends_retried = 0;
  std::map<std::string, uint64_t> errors;  // "http_503", "connect", "timeout", ...
};

struct Context {
  event_base* base = nullptr;
  const Options* opt = nullptr;
  Pacer* pacer = nullptr;
  Address parley;     // --url
  Address pub;        // Nchan publisher
  Address sub;        // Nchan subscriber
  uint64_t run_id = 0;
  bool stopping = false;      // no new requests, no reconnects
  bool sending = false;       // inside the send window
  int64_t first_send_mono = 0;
  int64_t last_delivery_mono = 0;
  Ledger ledger;
  Histogram latency_us;       // send -> read by this loop
  Histogram arrival_us;       // send -> queued by the kernel (HttpConn::arrival_ns)
  Histogram send_rtt_us;      // POST -> response
  Counters c;

  // Failures are counted by kind for the report; --verbose also logs each.
  void Error(const std::string& what) {
    ++c.errors[what];
    if (opt->verbose) std::fprintf(stderr, "parley-loadgen: %s\n", what.c_str());
  }

  // A stamp arrived at a receiver.
  // arrival_ns: HttpConn::arrival_ns() of the bytes that carried it.
  void Deliver(Receipts& r, const Stamp& s, int64_t arrival_ns) {
    if (s.run != run_id || !ledger.Known(s.g)) {
      ++c.foreign;
      return;
    }
    if (!r.Mark(s.g)) {
      ++c.duplicates;
      return;
    }
    ++c.deliveries;
    int64_t lat = WallNs() - s.t_ns;
    latency_us.Record(lat > 0 ? static_cast<uint64_t>(lat / 1000) : 0);
    if (arrival_ns >= 0) {
      int64_t arrived = arrival_ns - s.t_ns;
      arrival_us.Record(arrived > 0 ? static_cast<uint64_t>(arrived / 1000) : 0);
    }
    last_delivery_mono = MonoNs();
  }
};

}  // namespace parley::loadgen
