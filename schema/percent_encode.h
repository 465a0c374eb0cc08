// Percent-encoding (RFC 3986, section 2.1), pure and header-only: an SQLite
// URI's path (schema/db.cc) and an upload's RFC 5987 filename*
// (fcgi/handlers_uploads.cc) encode the same way, with their own sets of
// bytes kept as they are.
#pragma once

#include <string>
#include <string_view>

namespace parley {

// An ASCII letter or digit, or a byte of `keep`: written as it is.
inline bool PercentPlain(unsigned char c, std::string_view keep) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (c != '\0' && keep.find(static_cast<char>(c)) != std::string_view::npos);
}

// s with every byte but the plain ones as %XX (upper-case hex).
inline std::string PercentEncode(std::string_view s, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (PercentPlain(c, keep)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace parley
