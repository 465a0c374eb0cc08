#include "fixture.h"

#include <cstdio>

namespace parley::e2e {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string RoomPath(int64_t room, const std::string& tail) {
  return "/api/rooms/" + std::to_string(room) + tail;
}

std::string MessagePath(int64_t message, const std::string& tail) {
  return "/api/messages/" + std::to_string(message) + tail;
}

void StackTest::SetUp() {
  std::string error;
  stack_ = Stack::Start(Options(), &error);
  ASSERT_NE(stack_, nullptr) << "could not start the stack: " << error;
}

void StackTest::TearDown() {
  if (stack_ && HasFailure()) {
    std::fprintf(stderr, "--- stack on port %d, directory %s ---\n%s\n", stack_->port(),
                 stack_->dir().c_str(), stack_->LogTail().c_str());
  }
  stack_.reset();
}

std::unique_ptr<Client> StackTest::NewClient(Client::Cookies cookies) const {
  return std::make_unique<Client>(stack_->base_url(), cookies);
}

std::string StackTest::Unique(const std::string& prefix) {
  return prefix.substr(0, 16) + "_" + std::to_string(++counter_);
}

User StackTest::Register(const std::string& prefix) {
  User u;
  u.name = Unique(prefix);
  u.http = NewClient(Client::Cookies::kOff);
  Response r = u->Post("/api/register", "{\"username\":" + Quote(u.name) +
                                            ",\"password\":" + Quote(kPassword) + "}");
  if (r.status != 201) throw SetupError("register " + u.name + ": " + r.Describe());
  Json j = r.json();
  u.id = j["user"]["id"].num();
  u.token = j["token"].str();
  if (u.id <= 0 || u.token.empty()) throw SetupError("register " + u.name + ": " + r.Describe());
  u->set_bearer(u.token);
  return u;
}

int64_t StackTest::CreateRoom(User& owner, const std::string& name, const std::string& kind,
                              const std::string& extra) {
  Response r = owner->Post("/api/rooms", "{\"name\":" + Quote(name) + ",\"kind\":" +
                                             Quote(kind) + extra + "}");
  if (r.status != 201) throw SetupError("create room " + name + ": " + r.Describe());
  int64_t id = r.json()["room"]["id"].num();
  if (id <= 0) throw SetupError("create room " + name + ": " + r.Describe());
  return id;
}

void StackTest::Join(User& user, int64_t room) {
  Response r = user->Post(RoomPath(room, "/join"));
  if (r.status != 200) {
    throw SetupError(user.name + " join " + std::to_string(room) + ": " + r.Describe());
  }
}

void StackTest::InviteAndJoin(User& by, int64_t room, User& who) {
  Response r = by->Post(RoomPath(room, "/members"), "{\"username\":" + Quote(who.name) + "}");
  if (r.status != 201) {
    throw SetupError(by.name + " invite " + who.name + " to " + std::to_string(room) + ": " + r.Describe());
  }
  Join(who, room);
}

void StackTest::SetRole(User& owner, int64_t room, const User& member, const std::string& role) {
  Response r = owner->Put(RoomPath(room, "/members/" + member.name),
                          "{\"role\":" + Quote(role) + "}");
  if (r.status != 200) {
    throw SetupError("set role " + role + " for " + member.name + ": " + r.Describe());
  }
}

Json StackTest::Send(User& user, int64_t room, const std::string& text,
                     const std::string& client_id) {
  std::string body = "{\"text\":" + Quote(text);
  if (!client_id.empty()) body += ",\"client_id\":" + Quote(client_id);
  body += "}";
  Response r = user->Post(RoomPath(room, "/messages"), body);
  if (r.status != 201) throw SetupError(user.name + " send: " + r.Describe());
  Json m = r.json()["message"];
  if (m["id"].num() <= 0) throw SetupError(user.name + " send: " + r.Describe());
  return m;
}

Json StackTest::FindRoom(User& user, int64_t room) {
  Response r = user->Get("/api/rooms");
  if (r.status != 200) throw SetupError(user.name + " list rooms: " + r.Describe());
  for (const Json& j : r.json()["rooms"].items()) {
    if (j["id"].num() == room) return j;
  }
  return Json();
}

int64_t StackTest::General(User& user) {
  Response r = user->Get("/api/rooms");
  for (const Json& j : r.json()["rooms"].items()) {
    if (j["name"].str() == "general") return j["id"].num();
  }
  throw SetupError("no general room: " + r.Describe());
}

void ExpectNginxsOwnHeaders(const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& what) {
  auto all = [&](const std::string& name) {
    std::vector<std::string> values;
    for (const auto& [n, v] : headers) {
      if (n == name) values.push_back(v);
    }
    return values;
  };
  EXPECT_EQ(all("cache-control"), std::vector<std::string>{"no-store"}) << what;
  EXPECT_EQ(all("x-content-type-options"), std::vector<std::string>{"nosniff"}) << what;
  EXPECT_EQ(all("referrer-policy"), std::vector<std::string>{"no-referrer"}) << what;
  EXPECT_EQ(all("content-security-policy").size(), 1u) << what;
}

void StackTest::ExpectHealthy() {
  Response r = NewClient()->Get("/api/health");
  EXPECT_EQ(r.status, 200) << r.Describe();
}

}  // namespace parley::e2e
