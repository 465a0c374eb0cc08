#include "tools/loadgen/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace parley::loadgen {

const char* Usage() {
  return "usage: parley-loadgen --url http://127.0.0.1:PORT [options]\n"
         "  --tokens FILE          \"name token\" lines (parleyctl tokens PREFIX COUNT)\n"
         "  --subscribers N        subscribers (default 0)\n"
         "  --transport sse|poll   what the --subscribers are (default sse)\n"
         "  --pollers K            K long-pollers besides N SSE subscribers\n"
         "  --senders M            the first M tokens send (they may also subscribe)\n"
         "  --rate R               messages per second, all senders together\n"
         "  --per-sender-rate R    messages per second per sender (instead of --rate)\n"
         "  --room ID              room to send to (default 1)\n"
         "  --duration S           seconds of sending, or of holding with --hold-only (default 10)\n"
         "  --drain S              seconds to wait for deliveries after the last send (default 5)\n"
         "  --connect-rate C       new connections per second (default 500)\n"
         "  --connect-timeout S    bound of the connect phase (default: count/rate + 20)\n"
         "  --poll-timeout S       long-poll timeout parameter (default 25)\n"
         "  --retries N            failed attempts before a client gives up (default 5)\n"
         "  --size B               pad each message text to B bytes\n"
         "  --hold-only            open and hold the connections; report how many held\n"
         "  --nchan PUBURL SUBURL  publish with POST PUBURL, subscribe with EventSource to SUBURL\n"
         "  --label NAME           scenario name echoed in the report\n"
         "  --verbose              log connection errors to stderr\n"
         "Every URL must be on the loopback interface. Output: one JSON line on stdout.\n";
}

namespace {

Status Bad(const std::string& message) { return Status::Invalid("bad_option", message); }

bool ToDouble(std::string_view s, double* out) {
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || *end != '\0' || errno != 0 || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool ToInt(std::string_view s, int64_t lo, int64_t hi, int64_t* out) {
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(copy.c_str(), &end, 10);
  if (copy.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

Result<Options> ParseOptions(int argc, char** argv) {
  Options o;
  bool have_url = false;
  int subscribers = 0;
  double per_sender = -1;
  bool have_rate = false;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string_view inline_value;
    bool has_inline = false;
    if (size_t eq = a.find('='); a.substr(0, 2) == "--" && eq != std::string_view::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto value = [&](std::string_view* v) -> Status {
      if (has_inline) {
        *v = inline_value;
        return Status::Ok();
      }
      if (i + 1 >= args.size()) return Bad(std::string(a) + " needs a value");
      *v = args[++i];
      return Status::Ok();
    };
    auto count = [&](int64_t lo, int64_t hi, int64_t* out) -> Status {
      std::string_view v;
      PARLEY_RETURN_IF_ERROR(value(&v));
      if (!ToInt(v, lo, hi, out)) {
        return Bad(std::string(a) + " wants an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
      }
      return Status::Ok();
    };
    auto real = [&](double lo, double* out) -> Status {
      std::string_view v;
      PARLEY_RETURN_IF_ERROR(value(&v));
      if (!ToDouble(v, out) || *out < lo) return Bad(std::string(a) + " wants a number >= " + std::to_string(lo));
      return Status::Ok();
    };
    int64_t n = 0;
    std::string_view v;
    if (a == "--url") {
      PARLEY_RETURN_IF_ERROR(value(&v));
      auto t = ParseLoopbackUrl(v);
      if (!t.ok()) return t.status();
      o.url = *t;
      have_url = true;
    } else if (a == "--tokens") {
      PARLEY_RETURN_IF_ERROR(value(&v));
      o.tokens_file = std::string(v);
    } else if (a == "--subscribers") {
      PARLEY_RETURN_IF_ERROR(count(0, 1000000, &n));
      subscribers = static_cast<int>(n);
    } else if (a == "--pollers") {
      PARLEY_RETURN_IF_ERROR(count(0, 1000000, &n));
      o.pollers = static_cast<int>(n);
    } else if (a == "--transport") {
      PARLEY_RETURN_IF_ERROR(value(&v));
      if (v == "sse") {
        o.transport = Transport::kSse;
      } else if (v == "poll") {
        o.transport = Transport::kPoll;
      } else {
        return Bad("--transport is sse or poll");
      }
    } else if (a == "--senders") {
      PARLEY_RETURN_IF_ERROR(count(0, 1000000, &n));
      o.senders = static_cast<int>(n);
    } else if (a == "--rate") {
      PARLEY_RETURN_IF_ERROR(real(0, &o.rate));
      have_rate = true;
    } else if (a == "--per-sender-rate") {
      PARLEY_RETURN_IF_ERROR(real(0, &per_sender));
    } else if (a == "--room") {
      PARLEY_RETURN_IF_ERROR(count(1, INT64_MAX, &o.room));
    } else if (a == "--duration") {
      PARLEY_RETURN_IF_ERROR(real(0, &o.duration_s));
    } else if (a == "--drain") {
      PARLEY_RETURN_IF_ERROR(real(0, &o.drain_s));
    } else if (a == "--connect-rate") {
      PARLEY_RETURN_IF_ERROR(real(1, &o.connect_rate));
    } else if (a == "--connect-timeout") {
      PARLEY_RETURN_IF_ERROR(real(0, &o.connect_timeout_s));
    } else if (a == "--poll-timeout") {
      PARLEY_RETURN_IF_ERROR(count(0, 55, &n));
      o.poll_timeout_s = static_cast<int>(n);
    } else if (a == "--retries") {
      PARLEY_RETURN_IF_ERROR(count(0, 1000, &n));
      o.retries = static_cast<int>(n);
    } else if (a == "--size") {
      PARLEY_RETURN_IF_ERROR(count(0, 3900, &n));
      o.size = static_cast<int>(n);
    } else if (a == "--hold-only") {
      o.hold_only = true;
    } else if (a == "--nchan") {
      if (has_inline || i + 2 >= args.size()) return Bad("--nchan needs PUBURL and SUBURL");
      auto pub = ParseLoopbackUrl(args[++i]);
      if (!pub.ok()) return pub.status();
      auto sub = ParseLoopbackUrl(args[++i]);
      if (!sub.ok()) return sub.status();
      o.nchan = true;
      o.nchan_pub = *pub;
      o.nchan_sub = *sub;
    } else if (a == "--label") {
      PARLEY_RETURN_IF_ERROR(value(&v));
      o.label = std::string(v);
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--help" || a == "-h") {
      return Status::Invalid("help", Usage());
    } else {
      return Bad("unknown option " + std::string(a));
    }
  }

  if (o.transport == Transport::kPoll) {
    o.pollers += subscribers;
  } else {
    o.sse = subscribers;
  }
  if (per_sender >= 0) {
    if (have_rate) return Bad("give --rate or --per-sender-rate, not both");
    o.rate = per_sender * o.senders;
  }
  if (o.nchan) {
    if (o.pollers > 0) return Bad("--nchan runs SSE subscribers only");
  } else {
    if (!have_url) return Bad("--url is required");
    if (o.tokens_file.empty() && (o.receivers() > 0 || o.senders > 0)) return Bad("--tokens is required");
  }
  if (!o.hold_only && o.senders > 0 && o.rate <= 0) return Bad("--rate (or --per-sender-rate) must be > 0");
  if (o.receivers() == 0 && o.senders == 0) return Bad("nothing to do: no subscribers and no senders");
  return o;
}

Result<std::vector<std::string>> ParseTokens(const std::string& text) {
  std::vector<std::string> tokens;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    size_t sp = line.rfind(' ');
    std::string_view token = sp == std::string_view::npos ? line : line.substr(sp + 1);
    if (token.empty() || token.find_first_of("\t\"\\") != std::string_view::npos) {
      return Status::Invalid("bad_tokens", "line " + std::to_string(line_no) + ": expected \"name token\"");
    }
    tokens.emplace_back(token);
  }
  return tokens;
}

}  // namespace parley::loadgen
