// Command-line settings of parley-loadgen. Pure: parsed and validated here,
// unit-tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "schema/status.h"
#include "tools/loadgen/url.h"

namespace parley::loadgen {

enum class Transport { kSse, kPoll };

struct Options {
  Target url;                  // Parley's base URL (--url)
  std::string tokens_file;     // "name token" lines
  int sse = 0;                 // SSE subscribers
  int pollers = 0;             // long-poll subscribers
  Transport transport = Transport::kSse;  // what --subscribers are
  int senders = 0;
  double rate = 0;             // messages per second, all senders together
  int64_t room = 1;
  double duration_s = 10;      // the send phase (or the hold, with --hold-only)
  double drain_s = 5;          // after the last send, waiting for deliveries
  double connect_rate = 500;   // new connections per second
  double connect_timeout_s = -1;  // connect phase bound; -1: derived from the counts
  int poll_timeout_s = 25;
  int retries = 5;             // failed connection attempts before a client gives up
  int size = 0;                // pad message text to this many bytes
  bool hold_only = false;
  bool nchan = false;
  Target nchan_pub;
  Target nchan_sub;
  std::string label;           // echoed in the report ("room1000")
  bool verbose = false;

  int receivers() const { return sse + pollers; }
};

Result<Options> ParseOptions(int argc, char** argv);
const char* Usage();

// "name token" lines; blank lines and lines starting with # are skipped.
Result<std::vector<std::string>> ParseTokens(const std::string& text);

}  // namespace parley::loadgen
