// fcgi/auth.cc: cookies, credentials, the CSRF rule and the session cookie.
#include "fcgi/auth.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/crypto.h"
#include "tests/unit/temp_db.h"

namespace parley::fcgi {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(CryptoInit()); }
};

// The attributes of a Set-Cookie value, split at "; ".
std::vector<std::string> Attributes(const std::string& cookie) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t semi = cookie.find("; ", start);
    out.push_back(cookie.substr(start, semi - start));
    if (semi == std::string::npos) break;
    start = semi + 2;
  }
  return out;
}
bool Has(const std::vector<std::string>& attrs, const std::string& a) {
  for (const std::string& x : attrs) {
    if (x == a) return true;
  }
  return false;
}

TEST_F(AuthTest, BearerWinsOverCookie) {
  const std::string bearer = NewToken(), cookie = NewToken();
  Request req;
  req.authorization = "Bearer " + bearer;
  req.cookie = "parley_session=" + cookie;
  ASSERT_OK_AND_ASSIGN(std::optional<Credentials> c, ExtractCredentials(req));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->token, bearer);
  EXPECT_FALSE(c->from_cookie);
}

TEST_F(AuthTest, CookieAlone) {
  const std::string token = NewToken();
  Request req;
  req.cookie = "theme=dark; parley_session=" + token;
  ASSERT_OK_AND_ASSIGN(std::optional<Credentials> c, ExtractCredentials(req));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->token, token);
  EXPECT_TRUE(c->from_cookie);
}

TEST_F(AuthTest, NoCredentialsIsNotAnError) {
  Request req;
  ASSERT_OK_AND_ASSIGN(std::optional<Credentials> c, ExtractCredentials(req));
  EXPECT_FALSE(c.has_value());
  req.cookie = "theme=dark";
  ASSERT_OK_AND_ASSIGN(c, ExtractCredentials(req));
  EXPECT_FALSE(c.has_value());
}

TEST_F(AuthTest, MalformedCookieIsNoCredentials) {
  for (const std::string& cookie : std::vector<std::string>{std::string("parley_session=abc"), "parley_session=" + std::string(64, 'G'),
                                   "parley_session=" + NewToken() + "0", "parley_session="}) {
    Request req;
    req.cookie = cookie;
    ASSERT_OK_AND_ASSIGN(std::optional<Credentials> c, ExtractCredentials(req));
    EXPECT_FALSE(c.has_value()) << cookie;
  }
}

TEST_F(AuthTest, TheBearerSchemeIsCaseInsensitive) {
  const std::string token = NewToken();
  for (const char* scheme : {"bearer ", "BEARER ", "bEaReR "}) {
    Request req;
    req.authorization = scheme + token;
    ASSERT_OK_AND_ASSIGN(std::optional<Credentials> c, ExtractCredentials(req));
    ASSERT_TRUE(c.has_value()) << scheme;
    EXPECT_EQ(c->token, token);
    EXPECT_FALSE(c->from_cookie);
  }
}

TEST_F(AuthTest, BadAuthorizationIsUnauthorized) {
  const std::string token = NewToken();
  for (const std::string& auth : std::vector<std::string>{"Basic " + token, "Token " + token, "Bearer", "Bearer ", "Bearer abc",
                                 "Bearer " + token + "00", "Bearer " + std::string(64, 'Z'), "Bearer  " + token,
                                 token}) {
    Request req;
    req.authorization = auth;
    req.cookie = "parley_session=" + NewToken();  // a valid cookie does not rescue a bad header
    EXPECT_EQ(ExtractCredentials(req).status().code(), Code::kUnauthorized) << auth;
  }
}

TEST(CsrfTest, SameOriginFetchIsAccepted) {
  Request req;
  req.method = "POST";
  req.sec_fetch_site = "same-origin";
  EXPECT_OK(CheckCsrf(req));
  req.sec_fetch_site = "same-site";
  EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed");
  req.sec_fetch_site = "cross-site";
  EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed");
  req.sec_fetch_site = "none";
  EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed");
}

TEST(CsrfTest, OriginMustMatchSchemeAndHost) {
  Request req;
  req.method = "POST";
  req.host = "chat.example";
  req.origin = "http://chat.example";
  EXPECT_OK(CheckCsrf(req));
  req.https = true;
  EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed");
  req.origin = "https://chat.example";
  EXPECT_OK(CheckCsrf(req));
  req.https = false;
  EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed");

  req.host = "localhost:8080";
  req.origin = "http://localhost:8080";
  EXPECT_OK(CheckCsrf(req));
  req.origin = "http://localhost:9090";
  EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed");

  req.host = "chat.example";
  for (const char* origin : {"http://evil.example", "http://chat.example.evil", "http://chat.example/",
                             "null", "", "chat.example", "http://evil.example/http://chat.example"}) {
    req.origin = origin;
    EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed") << origin;
  }
  // No Host to compare with: refused even if Origin looks plausible.
  req.host = "";
  req.origin = "http://";
  EXPECT_ERROR(CheckCsrf(req), Code::kForbidden, "csrf_failed");
}

TEST(CsrfTest, UnsafeMethods) {
  EXPECT_FALSE(IsUnsafeMethod("GET"));
  EXPECT_FALSE(IsUnsafeMethod("HEAD"));
  EXPECT_FALSE(IsUnsafeMethod("OPTIONS"));
  EXPECT_TRUE(IsUnsafeMethod("POST"));
  EXPECT_TRUE(IsUnsafeMethod("PUT"));
  EXPECT_TRUE(IsUnsafeMethod("PATCH"));
  EXPECT_TRUE(IsUnsafeMethod("DELETE"));
}

TEST_F(AuthTest, SessionCookieAttributes) {
  const std::string token = NewToken();
  std::vector<std::string> plain = Attributes(SessionCookie(token, false));
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain[0], "parley_session=" + token);
  EXPECT_TRUE(Has(plain, "HttpOnly"));
  EXPECT_TRUE(Has(plain, "SameSite=Strict"));
  EXPECT_TRUE(Has(plain, "Path=/"));
  EXPECT_TRUE(Has(plain, "Max-Age=2592000"));
  EXPECT_FALSE(Has(plain, "Secure"));

  std::vector<std::string> tls = Attributes(SessionCookie(token, true));
  EXPECT_EQ(tls[0], "parley_session=" + token);
  EXPECT_TRUE(Has(tls, "HttpOnly"));
  EXPECT_TRUE(Has(tls, "SameSite=Strict"));
  EXPECT_TRUE(Has(tls, "Path=/"));
  EXPECT_TRUE(Has(tls, "Secure"));
}

TEST(ClearedCookieTest, ExpiresAtOnce) {
  std::vector<std::string> plain = Attributes(ClearedCookie(false));
  EXPECT_EQ(plain[0], "parley_session=");
  EXPECT_TRUE(Has(plain, "Max-Age=0"));
  EXPECT_TRUE(Has(plain, "Path=/"));
  EXPECT_TRUE(Has(plain, "HttpOnly"));
  EXPECT_FALSE(Has(plain, "Secure"));
  EXPECT_TRUE(Has(Attributes(ClearedCookie(true)), "Secure"));
}

}  // namespace
}  // namespace parley::fcgi
