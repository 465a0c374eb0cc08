#include "schema/crypto.h"

#include <sodium.h>

#include <cstdlib>
#include <string_view>
#include <utility>

#include "schema/log.h"

namespace parley {
namespace {

// Argon2id's cost: libsodium's interactive limits (about 100 ms and 64 MiB
// per hash here). Lowered to its minimum (microseconds) in two cases that
// never serve anyone: fuzz builds (PARLEY_FUZZ defines the macro, OSS-Fuzz's
// convention), so that a fuzzed register or login keeps the fuzzer's pace;
// and test stacks that set PARLEY_TEST_FAST_PASSWORDS=1 (tests/e2e/stack.cc,
// tests/browser/harness.js), whose thousands of registrations and logins
// were the largest CPU cost of the test suite. The hash is argon2id either
// way, with its parameters in the encoded string, so a verification needs
// no setting. Django and Synapse lower their hashers' cost in tests the
// same way.
struct Cost {
  unsigned long long ops;
  size_t mem;
};
constexpr Cost kInteractive{crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
constexpr Cost kMinimum{crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr Cost kDefault = kMinimum;
#else
constexpr Cost kDefault = kInteractive;
#endif
Cost g_cost = kDefault;

}  // namespace

Status CryptoInit() {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  const char* fast = std::getenv("PARLEY_TEST_FAST_PASSWORDS");
  const std::string_view value = fast ? fast : "";
  if (value != "" && value != "0" && value != "1") {
    return Status::Invalid("invalid_config", "PARLEY_TEST_FAST_PASSWORDS must be 0 or 1");
  }
  g_cost = value == "1" ? kMinimum : kDefault;
  // Once per process: a pool's workers inherit the flag from its master.
  static bool warned = false;
  if (value == "1" && !std::exchange(warned, true)) {
    LOG_WARN("PARLEY_TEST_FAST_PASSWORDS=1: passwords are hashed at argon2id's minimum cost, for tests only");
  }
  return Status::Ok();
}

Result<std::string> HashPassword(std::string_view password) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), g_cost.ops, g_cost.mem) != 0) {
    return Status::Unavailable("out of memory while hashing the password");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view password, const std::string& encoded) {
  return crypto_pwhash_str_verify(encoded.c_str(), password.data(), password.size()) == 0;
}

void VerifyDummyPassword(std::string_view password) {
  // Hashed once per process; verifying against it costs what a real check costs.
  static const std::string dummy = [] {
    auto h = HashPassword(NewToken());
    return h.ok() ? h.value() : std::string();
  }();
  if (!dummy.empty()) (void)VerifyPassword(password, dummy);
}

std::string NewToken() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char hex[sizeof raw * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return std::string(hex, sizeof raw * 2);
}

std::string TokenHash(std::string_view token) {
  unsigned char out[crypto_generichash_BYTES];  // 32
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

bool LooksLikeToken(std::string_view token) {
  if (token.size() != 64) return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) return std::string(part.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<std::string_view> BearerCredentials(std::string_view authorization) {
  constexpr std::string_view kBearer = "bearer ";  // lowercase: compared folded
  if (authorization.size() < kBearer.size()) return std::nullopt;
  for (size_t i = 0; i < kBearer.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kBearer[i]) return std::nullopt;
  }
  return authorization.substr(kBearer.size());
}

std::optional<std::string> RequestToken(std::string_view authorization, std::string_view cookie_header) {
  if (!authorization.empty()) {
    std::optional<std::string_view> token = BearerCredentials(authorization);
    if (!token || !LooksLikeToken(*token)) return std::nullopt;
    return std::string(*token);
  }
  std::optional<std::string> cookie = CookieValue(cookie_header, kSessionCookie);
  if (!cookie || !LooksLikeToken(*cookie)) return std::nullopt;
  return cookie;
}

}  // namespace parley
