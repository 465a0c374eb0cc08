// Store: reactions to messages (issue 12, DESIGN section 3.2).
//
// One row per (message, emoji, person). Adding twice or removing what is not
// there changes nothing and appends no event, so a retried click is
// harmless. Each change that happens appends a `reaction` event
// {"message_id","room_id","user","emoji","added"} to the room; readers keep
// counts from history (AttachReactions) and apply the events as they come.
// Stored message events never carry reactions: counts change after the
// event was written, and "me" depends on the reader. An add past
// kReactionsPerPerson or kEmojiPerMessage (store_rules.h) is refused, and
// so is one by a muted member, or in a DM whose other person blocked the
// reactor (CheckMaySpeak); removing one's own reaction never is.
#include "schema/json.h"
#include "schema/message_index.h"
#include "schema/store.h"
#include "schema/store_rules.h"

namespace parley {
namespace {

// Whether the user bound to `reader` reacted with the emoji of the
// reaction_counts row c: one primary key lookup (migration 015).
std::string MineIn(const char* reader) {
  return std::string("EXISTS(SELECT 1 FROM reactions r WHERE r.message_id = c.message_id AND r.emoji = c.emoji "
                     "AND r.user_id = ") + reader + ")";
}

}  // namespace

Result<ReactionResult> Store::React(const User& me, int64_t message_id, const std::string& emoji, bool add) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> m, LoadMessage(message_id));
  if (!m) return Status::NotFound("message_not_found", "no such message");
  auto access = LoadAccess(me.id, m->room_id, true);
  if (!access.ok()) {
    // A message in a room the reader cannot see does not exist for them.
    if (access.status().code() == Code::kNotFound) return Status::NotFound("message_not_found", "no such message");
    return access.status();
  }
  if (m->deleted) return Status::Conflict("message_deleted", "that message was deleted");
  // Adding one speaks in the room (refused to the muted, and to the blocked
  // in a DM); taking one's own back does not.
  if (add) PARLEY_RETURN_IF_ERROR(CheckMaySpeak(me, *access));
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kReact));
  int64_t changes = 0;
  if (add) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO reactions(message_id, emoji, user_id, room_id, ts) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING"));
    s.Bind(1, message_id).Bind(2, emoji).Bind(3, me.id).Bind(4, m->room_id).Bind(5, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
    changes = s.Changes();
    if (changes > 0) {
      // Counted after the insert, a row per emoji of the message (migration
      // 015) and a lookup of mine in each: never the message's every
      // reaction. A refusal rolls the insert back with the rest.
      static const std::string kBounds = "SELECT COALESCE(SUM(" + MineIn("?2") +
                                         "), 0), COUNT(*) FROM reaction_counts c WHERE c.message_id = ?1";
      PARLEY_ASSIGN_OR_RETURN(Statement c, db_.Prepare(kBounds));
      c.Bind(1, message_id).Bind(2, me.id);
      PARLEY_ASSIGN_OR_RETURN(bool row, c.Step());
      if (row) PARLEY_RETURN_IF_ERROR(CheckReactionBounds(c.Int(0), c.Int(1)));
    }
  } else {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND user_id = ?"));
    s.Bind(1, message_id).Bind(2, emoji).Bind(3, me.id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
    changes = s.Changes();
  }
  if (changes == 0) {
    // Nothing changed: rolling back returns the token, so a retry is free.
    tx.reset();
    std::vector<Message> one{std::move(*m)};
    PARLEY_RETURN_IF_ERROR(AttachReactions(me.id, one));
    return ReactionResult{std::move(one[0]), false};
  }
  JsonWriter w;
  w.BeginObject().Key("message_id").Int(message_id).Key("room_id").Int(m->room_id).Key("user");
  Write(w, me);
  w.Key("emoji").String(emoji).Key("added").Bool(add).EndObject();
  PARLEY_ASSIGN_OR_RETURN(int64_t ev, AppendEvent("reaction", m->room_id, std::nullopt, Audience::kRoom, w.Take()));
  (void)ev;
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  std::vector<Message> one{std::move(*m)};
  PARLEY_RETURN_IF_ERROR(AttachReactions(me.id, one));
  return ReactionResult{std::move(one[0]), true};
}

Status Store::AttachReactions(int64_t user_id, std::vector<Message>& messages) {
  const MessageIndex index(messages);
  return index.empty() ? Status::Ok() : LoadReactions(user_id, index);
}

// One query per list: the reactions of the listed messages, a row per
// message and emoji from their counts, in the order each emoji was first
// used, each with a lookup of the reader's own.
Status Store::LoadReactions(int64_t user_id, const MessageIndex& index) {
  static const std::string kReactions = "SELECT c.message_id, c.emoji, c.n, " + MineIn("?3") +
                                        " FROM reaction_counts c WHERE c.message_id BETWEEN ?1 AND ?2 "
                                        "ORDER BY c.message_id, c.first_ts, c.emoji";
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(kReactions));
  return index.ForEachRow(
      s, [user_id](Statement& q) { q.Bind(3, user_id); },
      [](Message& m, const Statement& row) {
        m.reactions.push_back(Reaction{row.Text(1), row.Int(2), row.Int(3) != 0});
      });
}

}  // namespace parley
