// schema/crypto.cc: Argon2id passwords and session tokens (libsodium).
// Each hash costs ~50-100 ms and 64 MiB, so these tests hash sparingly.
#include "schema/crypto.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <string>

#include "tests/unit/temp_db.h"

namespace parley {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(CryptoInit()); }
};

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST_F(CryptoTest, HashAndVerifyRoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::string hash, HashPassword("correct horse"));
  EXPECT_TRUE(VerifyPassword("correct horse", hash));
  EXPECT_FALSE(VerifyPassword("correct horsE", hash));
}

TEST_F(CryptoTest, HashesAreSaltedArgon2id) {
  ASSERT_OK_AND_ASSIGN(std::string a, HashPassword("same password"));
  ASSERT_OK_AND_ASSIGN(std::string b, HashPassword("same password"));
  EXPECT_EQ(a.rfind("$argon2id$", 0), 0u) << a;
  EXPECT_EQ(b.rfind("$argon2id$", 0), 0u) << b;
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find("same password"), std::string::npos);
  // Each hash verifies the one password it was made from.
  EXPECT_TRUE(VerifyPassword("same password", b));
}

TEST_F(CryptoTest, VerifyRejectsMalformedHashes) {
  EXPECT_FALSE(VerifyPassword("pw", ""));
  EXPECT_FALSE(VerifyPassword("pw", "$argon2id$garbage"));
  EXPECT_FALSE(VerifyPassword("pw", "pw"));
}

TEST_F(CryptoTest, DummyVerificationDoesNotFail) {
  VerifyDummyPassword("anything");
  VerifyDummyPassword("");  // the cached dummy hash is reused
}

TEST_F(CryptoTest, NewTokenIs64HexAndFresh) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = NewToken();
    EXPECT_EQ(t.size(), 64u);
    EXPECT_TRUE(IsLowerHex(t)) << t;
    EXPECT_TRUE(LooksLikeToken(t)) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST_F(CryptoTest, TokenHashIs32BytesAndDeterministic) {
  const std::string token = NewToken();
  const std::string h = TokenHash(token);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(TokenHash(token), h);
  EXPECT_NE(TokenHash(NewToken()), h);
  EXPECT_NE(h, token.substr(0, 32));  // not the token itself
  EXPECT_EQ(TokenHash("").size(), 32u);
}

TEST_F(CryptoTest, LooksLikeToken) {
  const std::string good(64, 'a');
  EXPECT_TRUE(LooksLikeToken(good));
  EXPECT_TRUE(LooksLikeToken("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(LooksLikeToken(""));
  EXPECT_FALSE(LooksLikeToken(std::string(63, 'a')));
  EXPECT_FALSE(LooksLikeToken(std::string(65, 'a')));
  EXPECT_FALSE(LooksLikeToken(std::string(64, 'A')));  // issued tokens are lowercase
  EXPECT_FALSE(LooksLikeToken(std::string(63, 'a') + "g"));
  EXPECT_FALSE(LooksLikeToken(std::string(63, 'a') + " "));
  EXPECT_FALSE(LooksLikeToken(std::string(63, 'a') + '\0'));
}

TEST(CookieValueTest, FindsOneCookieAmongSeveral) {
  EXPECT_EQ(CookieValue("parley_session=abc", "parley_session"), "abc");
  EXPECT_EQ(CookieValue("a=1; parley_session=abc; b=2", "parley_session"), "abc");
  EXPECT_EQ(CookieValue("a=1;parley_session=abc;b=2", "parley_session"), "abc");
  EXPECT_EQ(CookieValue("a=1;   parley_session=abc", "parley_session"), "abc");
  EXPECT_EQ(CookieValue("a=1; b=2", "b"), "2");
  EXPECT_EQ(CookieValue("parley_session=", "parley_session"), "");
  EXPECT_EQ(CookieValue("parley_session=first; parley_session=second", "parley_session"), "first");
  EXPECT_EQ(CookieValue("x=a=b", "x"), "a=b");  // only the first '=' separates
}

TEST(CookieValueTest, Missing) {
  EXPECT_EQ(CookieValue("", "parley_session"), std::nullopt);
  EXPECT_EQ(CookieValue("a=1; b=2", "parley_session"), std::nullopt);
  EXPECT_EQ(CookieValue("xparley_session=1", "parley_session"), std::nullopt);
  EXPECT_EQ(CookieValue("parley_session_old=1", "parley_session"), std::nullopt);
  EXPECT_EQ(CookieValue("parley_session", "parley_session"), std::nullopt);
  EXPECT_EQ(CookieValue(";;;", "parley_session"), std::nullopt);
}

TEST_F(CryptoTest, RequestTokenPrefersBearerThenCookie) {
  const std::string bearer = NewToken(), cookie = NewToken();
  EXPECT_EQ(RequestToken("Bearer " + bearer, "parley_session=" + cookie), bearer);
  EXPECT_EQ(RequestToken("", "a=1; parley_session=" + cookie), cookie);
  EXPECT_EQ(RequestToken("", ""), std::nullopt);
  EXPECT_EQ(RequestToken("", "parley_session=short"), std::nullopt);
  // A present but bad Authorization header is not rescued by the cookie.
  EXPECT_EQ(RequestToken("Basic " + bearer, "parley_session=" + cookie), std::nullopt);
  EXPECT_EQ(RequestToken("Bearer abc", "parley_session=" + cookie), std::nullopt);
  EXPECT_EQ(RequestToken("Bearer " + std::string(64, 'A'), ""), std::nullopt);
  EXPECT_STREQ(kSessionCookie, "parley_session");
}

TEST_F(CryptoTest, TheBearerSchemeIsCaseInsensitive) {
  const std::string token = NewToken();
  for (const std::string scheme : {"Bearer ", "bearer ", "BEARER ", "bEaReR "}) {
    EXPECT_EQ(BearerCredentials(scheme + "x y"), "x y") << scheme;
    EXPECT_EQ(RequestToken(scheme + token, ""), token) << scheme;
  }
  for (const char* other : {"", "Bearer", "Bearer\t", "Bearerx ", "Basic x", "Bearér x", "Bearer\x80x"}) {
    EXPECT_EQ(BearerCredentials(other), std::nullopt) << other;
  }
  EXPECT_EQ(RequestToken("bearer " + token + "0", ""), std::nullopt);
}

// PARLEY_TEST_FAST_PASSWORDS, for test stacks: "1" lowers argon2id to its
// minimum cost, "0" or unset keep the interactive cost, and any other value
// is refused (parley-fcgi and parleyctl then stop with its message).
TEST_F(CryptoTest, FastPasswordsIsOneOrZeroAndSetsTheCost) {
  struct Restore {
    ~Restore() {
      unsetenv("PARLEY_TEST_FAST_PASSWORDS");
      (void)CryptoInit();
    }
  } restore;
  setenv("PARLEY_TEST_FAST_PASSWORDS", "1", 1);
  ASSERT_OK(CryptoInit());
  ASSERT_OK_AND_ASSIGN(std::string fast, HashPassword("pw"));
  EXPECT_EQ(fast.rfind("$argon2id$v=19$m=8,t=1,", 0), 0u) << fast;
  EXPECT_TRUE(VerifyPassword("pw", fast));

  setenv("PARLEY_TEST_FAST_PASSWORDS", "0", 1);
  ASSERT_OK(CryptoInit());
  ASSERT_OK_AND_ASSIGN(std::string real, HashPassword("pw"));
  EXPECT_EQ(real.rfind("$argon2id$v=19$m=65536,t=2,", 0), 0u) << real;
  // A hash carries its cost: either verifies whatever the setting.
  EXPECT_TRUE(VerifyPassword("pw", fast));

  for (const char* bad : {"yes", "2", " 1", "1 ", "true", "01"}) {
    setenv("PARLEY_TEST_FAST_PASSWORDS", bad, 1);
    Status st = CryptoInit();
    EXPECT_FALSE(st.ok()) << "'" << bad << "'";
    EXPECT_NE(st.message().find("PARLEY_TEST_FAST_PASSWORDS must be 0 or 1"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace parley
