// Status and Result<T>: errors as values, never exceptions (after LevelDB).
//
// A Status carries a Code from a small fixed set plus a machine-readable
// reason ("room_not_found") and a human message. HttpStatus() is the one
// table from Code to an HTTP status, used by both daemons; the reason
// becomes the JSON error code verbatim (ErrorJson in json.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace parley {

enum class Code {
  kOk,
  kInvalid,       // bad input: 400
  kUnauthorized,  // not signed in: 401
  kForbidden,     // signed in but not allowed: 403
  kNotFound,      // 404
  kMethodNotAllowed,  // 405 (the caller adds Allow)
  kConflict,      // 409
  kTooLarge,      // 413
  kUnsupported,   // 415
  kThrottled,     // 429
  kUnavailable,   // busy / locked database: 503
  kInternal,      // a bug or an I/O error: 500
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string reason, std::string message)
      : code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Invalid(std::string reason, std::string message) {
    return {Code::kInvalid, std::move(reason), std::move(message)};
  }
  static Status NotFound(std::string reason, std::string message) {
    return {Code::kNotFound, std::move(reason), std::move(message)};
  }
  static Status Forbidden(std::string reason, std::string message) {
    return {Code::kForbidden, std::move(reason), std::move(message)};
  }
  static Status Conflict(std::string reason, std::string message) {
    return {Code::kConflict, std::move(reason), std::move(message)};
  }
  static Status Unauthorized(std::string reason, std::string message) {
    return {Code::kUnauthorized, std::move(reason), std::move(message)};
  }
  // retry_after_s: whole seconds until the caller may try again (Retry-After).
  static Status Throttled(std::string reason, std::string message, int64_t retry_after_s = 1) {
    Status st(Code::kThrottled, std::move(reason), std::move(message));
    st.retry_after_s_ = retry_after_s;
    return st;
  }
  static Status Unavailable(std::string message) {
    return {Code::kUnavailable, "busy", std::move(message)};
  }
  // The database or the file system had no room for a write (SQLite's
  // SQLITE_FULL, PostgreSQL's disk_full, ENOSPC): nothing of the write was
  // stored, and it may succeed once an operator frees space.
  static Status StorageFull() {
    Status st(Code::kUnavailable, "storage_full", "the server's disk is full; try again later");
    st.retry_after_s_ = 10;
    return st;
  }
  // The database's storage failed under it (SQLite's SQLITE_IOERR_* and
  // SQLITE_CANTOPEN: an I/O error, a file gone or made unwritable): likely
  // an operator's or the machine's to mend, not a bug, so the client is told
  // to come back rather than given a 500. `detail` (the database's words,
  // which can name a path) is for the log only.
  static Status StorageUnavailable(std::string detail) {
    Status st(Code::kUnavailable, "storage_unavailable", std::move(detail));
    st.retry_after_s_ = 10;
    st.private_message_ = true;
    return st;
  }
  static Status Internal(std::string message) {
    return {Code::kInternal, "internal", std::move(message)};
  }

  // The message names what a client must not see: a statement, the
  // database's own words, a host or a path. Clients get a fixed text for
  // the code instead (ErrorJson); the message is for the log. Set where
  // a C library's error becomes a Status (FromSqlite, FromPg).
  Status WithPrivateMessage() && {
    private_message_ = true;
    return std::move(*this);
  }
  bool message_is_private() const { return private_message_ || code_ == Code::kInternal; }
  // The same status (code, reason, Retry-After, privacy), its message
  // prefixed with what was being done.
  Status WithContext(std::string_view context) const {
    Status st = *this;
    st.message_ = std::string(context) + ": " + message_;
    return st;
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  int64_t retry_after_s() const { return retry_after_s_; }
  std::string ToString() const { return ok() ? "ok" : reason_ + ": " + message_; }

 private:
  Code code_ = Code::kOk;
  std::string reason_;
  std::string message_;
  int64_t retry_after_s_ = 1;  // kThrottled and kUnavailable only
  bool private_message_ = false;
};

// The one table from Code to HTTP status (status.cc), for both daemons.
int HttpStatus(Code code);
const char* ReasonPhrase(int http_status);

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace parley

// Propagate a non-OK Status to the caller.
#define PARLEY_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::parley::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

#define PARLEY_CONCAT_INNER(a, b) a##b
#define PARLEY_CONCAT(a, b) PARLEY_CONCAT_INNER(a, b)
// Declare `lhs` from a Result, or return its Status.
#define PARLEY_ASSIGN_OR_RETURN(lhs, expr)                        \
  auto PARLEY_CONCAT(_res_, __LINE__) = (expr);                   \
  if (!PARLEY_CONCAT(_res_, __LINE__).ok())                       \
    return PARLEY_CONCAT(_res_, __LINE__).status();               \
  lhs = std::move(PARLEY_CONCAT(_res_, __LINE__)).value()
