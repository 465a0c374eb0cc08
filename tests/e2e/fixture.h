// The base fixture of the end-to-end tests: a fresh stack per test (its own
// directory, database, port and processes), plus helpers that speak the API
// in the few ways every test needs (register a user, create a room, send).
//
// Setup helpers throw SetupError when the server answers something other
// than what the step needs: GoogleTest reports the exception as a failure of
// the running test and stops it, as ASSERT would, without every call site
// checking a status. Assertions about the contract itself stay in the tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "client.h"
#include "json.h"
#include "stack.h"

namespace parley::e2e {

struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kPassword = "correct-horse-battery";

// A signed-in user with a Bearer client of their own (no cookie jar, so
// requests are authenticated by the token alone).
struct User {
  std::string name;
  int64_t id = 0;
  std::string token;
  std::unique_ptr<Client> http;
  Client& operator*() { return *http; }
  Client* operator->() { return http.get(); }
};

// JSON string literal for `s`, quotes included (escapes ", \ and controls).
std::string Quote(const std::string& s);

class StackTest : public ::testing::Test {
 protected:
  // Override to start the stack differently (rate limits on, ...).
  virtual StackOptions Options() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  Stack& stack() { return *stack_; }
  std::string origin() const { return stack_->base_url(); }

  // A new client for this stack; cookies on, as a browser.
  std::unique_ptr<Client> NewClient(Client::Cookies cookies = Client::Cookies::kOn) const;
  // A unique, valid username starting with `prefix` (at most 24 chars).
  std::string Unique(const std::string& prefix);
  // Registers `Unique(prefix)` and returns it signed in with Bearer.
  User Register(const std::string& prefix);
  // Creates a room; `extra` is appended to the JSON object (",\"k\":v").
  int64_t CreateRoom(User& owner, const std::string& name, const std::string& kind,
                     const std::string& extra = "");
  void Join(User& user, int64_t room);
  // `by` invites `who` (201, a pending invitation) and `who` accepts it by
  // joining: how anyone comes into a private room.
  void InviteAndJoin(User& by, int64_t room, User& who);
  // Owner sets a member's role in a room.
  void SetRole(User& owner, int64_t room, const User& member, const std::string& role);
  // Sends a message, expects 201, returns the message object.
  Json Send(User& user, int64_t room, const std::string& text, const std::string& client_id = "");
  // The id of the room "general", which every user joins at registration.
  int64_t General(User& user);
  // The room object of `room` in the user's GET /api/rooms, or a null Json.
  Json FindRoom(User& user, int64_t room);
  // GET /api/health answers 200: the stack survived whatever came before.
  void ExpectHealthy();

  std::unique_ptr<Stack> stack_;

 private:
  int counter_ = 0;
};

// An answer nginx writes itself (a 429 of its limits, a 413, a 502) carries
// what the API's own answers do: Cache-Control no-store, once (README,
// "Caching"), and the server's security headers. `headers`: a response's,
// names lower-cased; `what` names it in failure messages.
void ExpectNginxsOwnHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& what);

// Path helpers.
std::string RoomPath(int64_t room, const std::string& tail = "");
std::string MessagePath(int64_t message, const std::string& tail = "");

}  // namespace parley::e2e
