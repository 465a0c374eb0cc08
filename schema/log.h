// Levelled logging to stderr, one line per event, shared by both daemons.
// The level check happens before any formatting, so debug lines cost a
// branch when off. Each line names the process role and pid.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace parley {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

extern LogLevel g_log_level;

// Parses "error|warn|info|debug"; false if unknown.
bool ParseLogLevel(const char* s, LogLevel* out);
// Sets the prefix printed after the level, e.g. "fcgi worker".
void SetLogRole(const char* role);
// One line on stderr, in one write(2). Control characters of the formatted
// message become text: a newline the two characters \ and n (CR \r, TAB
// \t), the rest of C0 and DEL \xHH. A message may quote a client or libpq
// (whose errors hold "\n\t"), and one entry must stay one line, with no
// terminal escape sequence in it.
void LogLine(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// LogLine's escaping: writes in's escaped form to out, at most room bytes
// (never part of an escape), and returns how many it wrote.
size_t EscapeControls(std::string_view in, char* out, size_t room);

// For a failure that can repeat hundreds of times a second (a full disk, a
// daemon out of descriptors): one line a second at most, saying how many
// it stands for. One per thread (or event loop): it takes no lock.
class LogEverySecond {
 public:
  // Counts one occurrence; true when this one is to be logged, with
  // *since the occurrences since the last logged one, this one included.
  bool Due(uint64_t* since);

 private:
  int64_t logged_ms_ = INT64_MIN / 2;  // the first is always logged
  uint64_t unlogged_ = 0;
};

}  // namespace parley

#define PARLEY_LOG(level, ...)                                                         \
  do {                                                                                 \
    if (static_cast<int>(level) <= static_cast<int>(::parley::g_log_level))            \
      ::parley::LogLine(level, __VA_ARGS__);                                           \
  } while (0)
#define LOG_ERROR(...) PARLEY_LOG(::parley::LogLevel::kError, __VA_ARGS__)
#define LOG_WARN(...) PARLEY_LOG(::parley::LogLevel::kWarn, __VA_ARGS__)
#define LOG_INFO(...) PARLEY_LOG(::parley::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) PARLEY_LOG(::parley::LogLevel::kDebug, __VA_ARGS__)
