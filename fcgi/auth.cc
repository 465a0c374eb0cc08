#include "fcgi/auth.h"

#include "schema/crypto.h"

namespace parley::fcgi {

Result<std::optional<Credentials>> ExtractCredentials(const Request& req) {
  if (!req.authorization.empty()) {
    std::optional<std::string_view> token = BearerCredentials(req.authorization);
    if (!token) return Status::Unauthorized("not_signed_in", "use Authorization: Bearer <token>");
    if (!LooksLikeToken(*token)) return Status::Unauthorized("not_signed_in", "that token is not valid");
    return std::optional<Credentials>(Credentials{std::string(*token), false});
  }
  std::optional<std::string> cookie = CookieValue(req.cookie, kCookieName);
  // A malformed or stale cookie is treated as no cookie: the browser then
  // simply shows the sign-in page.
  if (!cookie || !LooksLikeToken(*cookie)) return std::optional<Credentials>();
  return std::optional<Credentials>(Credentials{std::move(*cookie), true});
}

bool IsUnsafeMethod(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

Status CheckCsrf(const Request& req) {
  if (req.sec_fetch_site == "same-origin") return Status::Ok();
  if (!req.origin.empty() && !req.host.empty() &&
      req.origin == std::string(req.https ? "https://" : "http://") + req.host) {
    return Status::Ok();
  }
  return Status::Forbidden("csrf_failed", "cross-site request refused (Origin does not match)");
}

std::string SessionCookie(const std::string& token, bool https) {
  return std::string(kCookieName) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(kCookieMaxAgeS) + (https ? "; Secure" : "");
}

std::string ClearedCookie(bool https) {
  return std::string(kCookieName) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (https ? "; Secure" : "");
}

}  // namespace parley::fcgi
