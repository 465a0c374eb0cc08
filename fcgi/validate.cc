#include "fcgi/validate.h"

#include "fcgi/input.h"

namespace parley::fcgi {
namespace {

// C0 controls other than tab, newline and carriage return would let a
// message rewrite a terminal client's screen (ESC sequences) or confuse
// line-based tools.
bool HasForbiddenControl(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
    if (c == 0x7F) return true;
  }
  return false;
}

bool IsBlank(const std::string& s) {
  for (unsigned char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace

Status ValidateUsername(const std::string& s) {
  if (s.empty() || s.size() > kMaxUsername) {
    return Status::Invalid("invalid_field", "username must be 1 to 32 characters");
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-';
    if (!ok) return Status::Invalid("invalid_field", "username may use only letters, digits, _ . and -");
  }
  return Status::Ok();
}

Status ValidatePassword(const std::string& s) {
  if (s.size() < kMinPassword || s.size() > kMaxPassword) {
    return Status::Invalid("invalid_field", "password must be 8 to 1024 bytes");
  }
  return Status::Ok();
}

Status ValidateText(const std::string& s) {
  if (!ValidUtf8(s)) return Status::Invalid("invalid_utf8", "text is not valid UTF-8");
  if (HasForbiddenControl(s)) return Status::Invalid("invalid_field", "text must not contain control characters");
  if (IsBlank(s)) return Status::Invalid("invalid_field", "text must not be empty");
  if (CodePoints(s) > kMaxText) return Status::Invalid("invalid_field", "text may be at most 4000 characters");
  return Status::Ok();
}

Status ValidateRoomName(const std::string& s) {
  if (!ValidUtf8(s)) return Status::Invalid("invalid_utf8", "name is not valid UTF-8");
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return Status::Invalid("invalid_field", "name must not contain control characters");
  }
  if (IsBlank(s) || CodePoints(s) > kMaxRoomName) {
    return Status::Invalid("invalid_field", "name must be 1 to 64 characters");
  }
  return Status::Ok();
}

Status ValidateClientId(const std::string& s) {
  if (s.empty() || s.size() > kMaxClientId) {
    return Status::Invalid("invalid_field", "client_id must be 1 to 64 characters");
  }
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7E) return Status::Invalid("invalid_field", "client_id must be printable ASCII");
  }
  return Status::Ok();
}

}  // namespace parley::fcgi
