// Accounts and sessions: register, login, logout, me, user search, health.
#include "fcgi/api.h"
#include "fcgi/input.h"
#include "fcgi/response.h"
#include "fcgi/validate.h"
#include "schema/crypto.h"
#include "schema/login_rules.h"

namespace parley::fcgi {

// Opens a session for user; the token goes to the client once, in the body
// (for curl and scripts) and in an HttpOnly cookie (for browsers).
Result<Response> Api::SignedIn(const User& user, const std::string& pw_hash, int status, bool https) {
  std::string token = NewToken();
  PARLEY_RETURN_IF_ERROR(store_.CreateSession(user.id, TokenHash(token), pw_hash));
  JsonWriter w;
  w.BeginObject().Key("user");
  Write(w, user);
  w.Key("token").String(token).EndObject();
  Response r = JsonResponse(status, w.Take());
  r.headers.emplace_back("Set-Cookie", SessionCookie(token, https));
  return r;
}

Result<Response> Api::Register(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string username, RequireString(c.body, "username"));
  PARLEY_ASSIGN_OR_RETURN(std::string password, RequireString(c.body, "password"));
  PARLEY_RETURN_IF_ERROR(ValidateUsername(username));
  PARLEY_RETURN_IF_ERROR(ValidatePassword(password));
  // Answer a taken name before spending ~50 ms and 64 MiB on Argon2id; the
  // insert below still decides races.
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> existing, store_.FindUser(username));
  if (existing) return Status::Conflict("username_taken", "that username is taken");
  PARLEY_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  PARLEY_ASSIGN_OR_RETURN(User user, store_.CreateUser(username, hash));
  return SignedIn(user, hash, 201, c.req.https);
}

Result<Response> Api::Login(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string username, RequireString(c.body, "username"));
  PARLEY_ASSIGN_OR_RETURN(std::string password, RequireString(c.body, "password"));
  const Status bad = Status::Unauthorized("invalid_credentials", "wrong username or password");
  if (!ValidateUsername(username).ok()) {
    VerifyDummyPassword(password);
    return bad;
  }
  // Counted before the password is checked: parallel guesses get no extra
  // tries; an IPv6 client by its /64.
  const std::string address = LoginAddressKey(c.req.remote_addr);
  PARLEY_RETURN_IF_ERROR(store_.BeginLogin(username, address));
  PARLEY_ASSIGN_OR_RETURN(std::optional<UserCredentials> cred, store_.FindCredentials(username));
  bool ok = false;
  if (cred) {
    ok = VerifyPassword(password, cred->pw_hash);
  } else {
    VerifyDummyPassword(password);  // same time as a real check
  }
  if (!ok) return bad;  // already counted by BeginLogin
  PARLEY_RETURN_IF_ERROR(store_.LoginSucceeded(username, address));
  // Only after the password check, so a guesser learns nothing from it.
  if (cred->deactivated) return Status::Forbidden("account_deactivated", "this account was deactivated by an admin");
  return SignedIn(cred->user, cred->pw_hash, 200, c.req.https);
}

Result<Response> Api::Logout(Call& c) {
  PARLEY_RETURN_IF_ERROR(store_.RevokeSession(TokenHash(c.creds->token)));
  Response r = NoContent();
  r.headers.emplace_back("Set-Cookie", ClearedCookie(c.req.https));
  return r;
}

Result<Response> Api::Me(Call& c) { return JsonResponse(200, Wrap("user", c.user)); }

Result<Response> Api::Users(Call& c) {
  std::string prefix = QueryParam(c.req.query, "prefix").value_or("");
  PARLEY_RETURN_IF_ERROR(ValidatePrefix(prefix, kMaxUsername));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(c.req.query, "limit", 1, 50));
  PARLEY_ASSIGN_OR_RETURN(std::vector<User> users, store_.SearchUsers(prefix, static_cast<int>(limit.value_or(20))));
  return JsonResponse(200, Wrap("users", users));
}

Result<Response> Api::Health(Call&) {
  PARLEY_RETURN_IF_ERROR(store_.Writable());
  PARLEY_ASSIGN_OR_RETURN(int64_t head, store_.Head());
  PARLEY_ASSIGN_OR_RETURN(std::string epoch, store_.Epoch());
  JsonWriter w;
  w.BeginObject().Key("status").String("ok").Key("head").Int(head).Key("epoch").String(epoch).EndObject();
  return JsonResponse(200, w.Take());
}

}  // namespace parley::fcgi
