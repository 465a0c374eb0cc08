// PgStore: reactions to messages, with the behaviour of SQLite's
// schema/store_reactions.cc: one row per (message, emoji, person); adding
// twice or removing what is not there changes nothing and appends no event;
// each change appends a `reaction` event to the room; adding one is refused
// to a muted member and, in a DM, to one the other person blocked.
//
// Concurrency: the message row is locked (FOR SHARE to remove a reaction,
// FOR NO KEY UPDATE to add one, for the count of its emoji) and the
// reactor's member row FOR SHARE until COMMIT, so a delete (which takes the
// message FOR UPDATE and drops its reactions) or a kick racing a reaction is
// serialised with it: no reaction outlives its message's tombstone or its
// member.
#include "schema/json.h"
#include "schema/pg/store.h"
#include "schema/pg/store_details.h"
#include "schema/store_rules.h"

namespace parley::pg {
namespace {

// Whether the user bound to `reader` reacted with the emoji of the
// reaction_counts row c: one primary key lookup (migration 010).
std::string MineIn(const char* reader) {
  return std::string("EXISTS (SELECT 1 FROM reactions r WHERE r.message_id = c.message_id AND r.emoji = c.emoji "
                     "AND r.user_id = ") + reader + ")";
}

}  // namespace

Result<ReactionResult> PgStore::React(const User& me, int64_t message_id, const std::string& emoji, bool add) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  // An add locks the message for itself (NO KEY: other rows' foreign keys
  // still pass): two new emoji on two pools cannot both pass the count of
  // kEmojiPerMessage, which then reads the other's committed row.
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> m,
                          LoadMessage(message_id, add ? "FOR NO KEY UPDATE OF m" : "FOR SHARE OF m"));
  if (!m) return Status::NotFound("message_not_found", "no such message");
  auto access = LoadAccess(me.id, m->room_id, true, true);
  if (!access.ok()) {
    // A message in a room the reader cannot see does not exist for them.
    if (access.status().code() == Code::kNotFound) return Status::NotFound("message_not_found", "no such message");
    return access.status();
  }
  if (m->deleted) return Status::Conflict("message_deleted", "that message was deleted");
  // Adding one speaks in the room; taking one's own back does not (as SQLite).
  if (add) PARLEY_RETURN_IF_ERROR(CheckMaySpeak(me, *access));
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kReact));
  PARLEY_ASSIGN_OR_RETURN(
      PgResult changed,
      add ? conn_.Exec("INSERT INTO reactions (message_id, emoji, user_id, room_id, ts) VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT DO NOTHING",
                       {message_id, emoji, me.id, m->room_id, NowMs()})
          : conn_.Exec("DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                       {message_id, emoji, me.id}));
  if (add && changed.Affected() > 0) {
    // A row per emoji of the message (migration 010) and a lookup of
    // mine in each: never the message's every reaction.
    PARLEY_ASSIGN_OR_RETURN(PgResult c, conn_.Exec("SELECT COALESCE(SUM((" + MineIn("$2") + ")::int), 0), COUNT(*) "
                                                   "FROM reaction_counts c WHERE c.message_id = $1",
                                                   {message_id, me.id}));
    PARLEY_ASSIGN_OR_RETURN(int64_t mine, c.Int(0, 0));
    PARLEY_ASSIGN_OR_RETURN(int64_t different, c.Int(0, 1));
    PARLEY_RETURN_IF_ERROR(CheckReactionBounds(mine, different));
  }
  std::vector<Message> one{std::move(*m)};
  if (changed.Affected() == 0) {
    // Nothing changed: rolling back returns the token, so a retry is free.
    tx.reset();
    PARLEY_RETURN_IF_ERROR(AttachReactions(me.id, one));
    return ReactionResult{std::move(one[0]), false};
  }
  JsonWriter w;
  w.BeginObject().Key("message_id").Int(message_id).Key("room_id").Int(one[0].room_id).Key("user");
  Write(w, me);
  w.Key("emoji").String(emoji).Key("added").Bool(add).EndObject();
  std::vector<Event> events = {MakeEvent("reaction", one[0].room_id, std::nullopt, Audience::kRoom, w.Take())};
  PARLEY_RETURN_IF_ERROR(CommitEvents(*tx, events));
  PARLEY_RETURN_IF_ERROR(AttachReactions(me.id, one));
  return ReactionResult{std::move(one[0]), true};
}

// The reactions of the listed messages, a row per message and emoji from
// their counts, in the order each emoji was first used (ties by the
// emoji's bytes, as SQLite's BINARY collation orders them), each with a
// lookup of the reader's own.
DetailQuery ReactionsQuery(int64_t reader_id) {
  return MakeDetailQuery(
      [](const char* key_test, const char* reader) {
        return "SELECT c.message_id, c.emoji, c.n, (" + MineIn(reader) +
               ")::int FROM reaction_counts c WHERE c.message_id " + key_test +
               " ORDER BY c.message_id, c.first_ts, c.emoji COLLATE \"C\"";
      },
      reader_id, [](Message& m, const PgResult& r, int row) -> Status {
        PARLEY_ASSIGN_OR_RETURN(int64_t count, r.Int(row, 2));
        PARLEY_ASSIGN_OR_RETURN(int64_t mine, r.Int(row, 3));
        m.reactions.push_back(Reaction{r.Text(row, 1), count, mine != 0});
        return Status::Ok();
      });
}

Status PgStore::AttachReactions(int64_t user_id, std::vector<Message>& messages) {
  return Attach(messages, {ReactionsQuery(user_id)});
}

}  // namespace parley::pg
