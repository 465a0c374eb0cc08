// Fuzz target: everything a request line and its headers carry before a
// handler runs. The router over arbitrary methods and paths (fcgi/router.h,
// with ParseId for {id} segments), query strings (QueryParam, QueryInt),
// the Cookie header (CookieValue), credentials from Authorization or the
// cookie (ExtractCredentials in fcgi/auth.h, RequestToken in
// schema/crypto.h, which parley-events uses) and the CSRF check.
//
// Oracles: a found route's path starts with /api/ and its id is positive and
// spelled in the path; ParseId accepts exactly the digit strings of at most
// 18 digits and returns their value; QueryInt stays in its range; both
// credential readers agree on the token (parley-fcgi and parley-events must
// see the same user); any token they return is a well-formed one.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "fcgi/auth.h"
#include "fcgi/input.h"
#include "fcgi/router.h"
#include "schema/crypto.h"
#include "tests/fuzz/check.h"

namespace {

using namespace parley;
using namespace parley::fcgi;

void CheckParseId(const std::string& s) {
  std::optional<int64_t> v = ParseId(s);
  bool digits = !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
  FUZZ_CHECK(v.has_value() == digits);
  if (v) FUZZ_CHECK(*v == std::stoll(s));
}

void CheckRoute(const std::string& method, const std::string& path) {
  RouteMatch m = Route(method, path);
  switch (m.kind) {
    case RouteMatch::Kind::kFound:
      FUZZ_CHECK(path.rfind("/api/", 0) == 0);
      FUZZ_CHECK(m.num >= 0);
      if (m.num > 0) FUZZ_CHECK(path.find(std::to_string(m.num)) != std::string::npos);
      if (!m.name.empty()) FUZZ_CHECK(path.find(m.name) != std::string::npos && m.name.find('/') == std::string::npos);
      (void)TakesBody(m.id);
      (void)IsPublic(m.id);
      break;
    case RouteMatch::Kind::kWrongMethod:
      FUZZ_CHECK(!m.allow.empty());
      break;
    case RouteMatch::Kind::kNotFound:
      FUZZ_CHECK(m.allow.empty());
      break;
  }
}

void CheckQuery(const std::string& query, const std::string& key) {
  std::optional<std::string> raw = QueryParam(query, key);
  if (raw) FUZZ_CHECK(raw->size() <= query.size());
  for (auto [lo, hi] : {std::pair<int64_t, int64_t>{1, 200}, {0, INT64_MAX}}) {
    auto v = QueryInt(query, key.c_str(), lo, hi);
    if (v.ok() && *v) FUZZ_CHECK(**v >= lo && **v <= hi && raw.has_value());
    if (!raw) FUZZ_CHECK(v.ok() && !*v);
  }
}

void CheckCredentials(const Request& req) {
  Result<std::optional<Credentials>> creds = ExtractCredentials(req);
  std::optional<std::string> token = RequestToken(req.authorization, req.cookie);
  if (token) FUZZ_CHECK(LooksLikeToken(*token));
  if (creds.ok() && *creds) {
    FUZZ_CHECK(LooksLikeToken((*creds)->token));
    FUZZ_CHECK((*creds)->from_cookie == req.authorization.empty());
    FUZZ_CHECK(token && *token == (*creds)->token);
  } else {
    FUZZ_CHECK(!token);
  }
  if (std::optional<std::string> c = CookieValue(req.cookie, kCookieName)) FUZZ_CHECK(c->size() < req.cookie.size());
  (void)CheckCsrf(req);
  (void)IsUnsafeMethod(req.method);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const char* const kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
  static const char* const kKeys[] = {"limit", "before", "after", "prefix", "since", "last_event_id"};
  Request req;
  req.method = in.ConsumeBool() ? kMethods[in.ConsumeIntegralInRange<size_t>(0, 5)] : in.ConsumeRandomLengthString(16);
  req.path = in.ConsumeRandomLengthString(200);
  req.query = in.ConsumeRandomLengthString(200);
  std::string key = in.ConsumeBool() ? kKeys[in.ConsumeIntegralInRange<size_t>(0, 5)] : in.ConsumeRandomLengthString(16);
  key = key.substr(0, key.find('\0'));  // keys are C-string constants in the handlers
  req.cookie = in.ConsumeRandomLengthString(300);
  req.authorization = in.ConsumeRandomLengthString(100);
  req.origin = in.ConsumeRandomLengthString(40);
  req.host = in.ConsumeRandomLengthString(40);
  req.sec_fetch_site = in.ConsumeRandomLengthString(16);
  req.https = in.ConsumeBool();
  std::string id = in.ConsumeRemainingBytesAsString();

  CheckRoute(req.method, req.path);
  CheckParseId(id);
  CheckQuery(req.query, key);
  CheckCredentials(req);
  return 0;
}
