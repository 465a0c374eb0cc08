// The data model shared by both daemons. Plain values; JSON forms in json.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace parley {

struct User {
  int64_t id = 0;
  std::string username;
};

struct Room {
  int64_t id = 0;
  std::string name;
  std::string kind;  // public | private | qa | dm
  std::optional<User> owner;
  std::optional<int64_t> answers_per_professor;
  // Seen from one user:
  bool member = false;
  std::optional<std::string> role;
  int64_t unread = 0;
  int64_t last_event_id = 0;
  int64_t read_event_id = 0;  // members: my read marker (0: never read)
  std::optional<User> peer;  // the other person of a direct conversation
};

struct Member {
  User user;
  std::string role;  // member | student | professor
  bool owner = false;
  bool online = false;
};

struct Message {
  int64_t id = 0;
  int64_t room_id = 0;
  User user;
  std::string kind;  // message | question | answer
  std::string text;
  std::optional<int64_t> reply_to;
  std::optional<int64_t> answer_id;  // questions: the accepted answer
  int64_t ts = 0;
  std::optional<std::string> client_id;
  bool edited = false;
  bool deleted = false;
};

// One row of the event log. data is the JSON payload clients receive.
struct Event {
  int64_t id = 0;
  int64_t ts = 0;
  std::string type;
  std::optional<int64_t> room_id;
  std::optional<int64_t> target_id;
  std::string audience;  // room | all
  std::string data;
};

}  // namespace parley
