// Passwords and session tokens, on libsodium. Shared by parley-fcgi (login),
// parley-events (stream authentication) and parleyctl (create-user).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "schema/status.h"

namespace parley {

// Must be called once per process before any other function here. Reads
// PARLEY_TEST_FAST_PASSWORDS ("1": argon2id at its minimum cost, for test
// stacks only; "0" or unset: the interactive cost); any other value is an
// error.
Status CryptoInit();

// Argon2id with libsodium's interactive limits (see CryptoInit); the result
// is the encoded "$argon2id$..." string (salt and parameters included).
Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view password, const std::string& encoded);
// Spends the same time as a real verification, so that login with an
// unknown username cannot be told apart by timing.
void VerifyDummyPassword(std::string_view password);

// A 256-bit random token, as 64 lowercase hex characters.
std::string NewToken();
// The form stored in the sessions table: BLAKE2b-256 of the token, as raw
// bytes. Tokens are random and long, so no salt or slow hash is needed.
std::string TokenHash(std::string_view token);
// True for 64 lowercase hex characters (the only tokens we ever issue).
bool LooksLikeToken(std::string_view token);

// The session cookie's name, and the value of one cookie in a Cookie header.
constexpr const char* kSessionCookie = "parley_session";
std::optional<std::string> CookieValue(std::string_view header, std::string_view name);
// What follows "Bearer " in an Authorization header, the scheme matched in
// any case (RFC 7235 section 2.1: "bearer", "BEARER"); nullopt for any other
// scheme. The token itself is not checked (LooksLikeToken).
std::optional<std::string_view> BearerCredentials(std::string_view authorization);
// The session token a request carries: "Authorization: Bearer <token>"
// first, else the session cookie; nullopt when neither holds a
// well-formed token.
std::optional<std::string> RequestToken(std::string_view authorization, std::string_view cookie_header);

}  // namespace parley
