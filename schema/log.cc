#include "schema/log.h"

#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

namespace parley {

LogLevel g_log_level = LogLevel::kInfo;
static char g_role[32] = "parley";

bool ParseLogLevel(const char* s, LogLevel* out) {
  static const char* const kNames[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; ++i) {
    if (s && std::strcmp(s, kNames[i]) == 0) {
      *out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

void SetLogRole(const char* role) { std::snprintf(g_role, sizeof g_role, "%s", role); }

size_t EscapeControls(std::string_view in, char* out, size_t room) {
  static const char kHex[] = "0123456789abcdef";
  size_t len = 0;
  for (unsigned char c : in) {
    char escaped[4];
    size_t k = 0;
    if (c == '\n' || c == '\r' || c == '\t') {
      escaped[k++] = '\\';
      escaped[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
    } else if (c < 0x20 || c == 0x7f) {
      escaped[k++] = '\\';
      escaped[k++] = 'x';
      escaped[k++] = kHex[c >> 4];
      escaped[k++] = kHex[c & 0xf];
    } else {
      escaped[k++] = static_cast<char>(c);
    }
    if (len + k > room) break;  // cut before the escape, never inside one
    std::memcpy(out + len, escaped, k);
    len += k;
  }
  return len;
}

void LogLine(LogLevel level, const char* fmt, ...) {
  static const char* const kLevel[] = {"ERROR", "WARN", "INFO", "DEBUG"};
  char line[2048];
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc;
  gmtime_r(&ts.tv_sec, &utc);
  int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%s %d] ",
                        utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                        utc.tm_sec, ts.tv_nsec / 1000000, kLevel[static_cast<int>(level)], g_role,
                        static_cast<int>(getpid()));
  char message[sizeof line];
  va_list ap;
  va_start(ap, fmt);
  int m = std::vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  const size_t message_len = m < 0 ? 0 : std::min<size_t>(m, sizeof message - 1);
  size_t len = static_cast<size_t>(n) + EscapeControls(std::string_view(message, message_len), line + n,
                                                        sizeof line - n - 1);
  line[len++] = '\n';
  // One write(2) per line keeps lines from several processes whole.
  ssize_t ignored = write(STDERR_FILENO, line, len);
  (void)ignored;
}

bool LogEverySecond::Due(uint64_t* since) {
  using namespace std::chrono;
  const int64_t now = duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  ++unlogged_;
  if (now - logged_ms_ < 1000) return false;
  *since = unlogged_;
  logged_ms_ = now;
  unlogged_ = 0;
  return true;
}

}  // namespace parley
