// Who is asking: session tokens from the Authorization header or the
// session cookie, the CSRF rule for cookies, and the cookie itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fcgi/http.h"
#include "schema/crypto.h"
#include "schema/status.h"

namespace parley::fcgi {

constexpr const char* kCookieName = ::parley::kSessionCookie;
constexpr int64_t kCookieMaxAgeS = 30LL * 24 * 3600;

struct Credentials {
  std::string token;
  bool from_cookie = false;
};

// Shared with parley-events (schema/crypto.h).
using ::parley::CookieValue;

// Bearer (the scheme in any case) wins over the cookie. No credentials at
// all is not an error here (nullopt); a malformed Authorization header or
// token is 401.
Result<std::optional<Credentials>> ExtractCredentials(const Request& req);

// A cookie-authenticated unsafe request must come from our own origin:
// Sec-Fetch-Site: same-origin, or Origin equal to scheme://Host.
Status CheckCsrf(const Request& req);
bool IsUnsafeMethod(std::string_view method);

std::string SessionCookie(const std::string& token, bool https);
std::string ClearedCookie(bool https);

}  // namespace parley::fcgi
