// schema/store_messages.cc (Edit, Delete) with schema/db.cc (secure_delete,
// TRUNCATE checkpoints after a delete or an edit, migration 012) and
// migration 004: a deleted message's text and an
// edited message's earlier text are gone from every event that replays it
// (DESIGN section 4), and from the bytes of the database file and its WAL
// (issue 8, item 6).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/json.h"
#include "schema/migrate.h"
#include "schema/store.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kGeneral;

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class StoreRedactTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore());
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
  }
  int64_t Send(const User& u, const std::string& text) {
    auto r = store_->Send(u, kGeneral, text, std::nullopt);
    EXPECT_OK(r);
    return r.ok() ? r->message.id : -1;
  }
  // The data of every event that bob's poll from 0 replays.
  std::vector<Event> Replay() {
    auto h = store_->Head();
    EXPECT_OK(h);
    auto events = store_->EventsForUser(bob_.id, 0, h.ok() ? *h : 0, 1000);
    EXPECT_OK(events);
    return events.ok() ? *events : std::vector<Event>();
  }
  static bool AnyContains(const std::vector<Event>& events, const std::string& text) {
    for (const Event& e : events) {
      if (e.data.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // The events of one message, in order, with their type and data.
  std::vector<Event> EventsOf(int64_t message_id) {
    std::vector<Event> out;
    auto all = store_->EventsAfter(0, 100000);
    EXPECT_OK(all);
    if (!all.ok()) return out;
    for (const Event& e : *all) {
      JsonPtr j(cJSON_Parse(e.data.c_str()));
      const cJSON* id = cJSON_GetObjectItemCaseSensitive(j.get(), "id");
      if (cJSON_IsNumber(id) && static_cast<int64_t>(id->valuedouble) == message_id &&
          (e.type == "message" || e.type == "edit" || e.type == "delete")) {
        out.push_back(e);
      }
    }
    return out;
  }
  void Checkpoint() {
    ASSERT_OK(db_->LockWriter());
    Status st = db_->Checkpoint();
    db_->UnlockWriter();
    ASSERT_OK(st);
  }
  // Both files as they are on disk now.
  bool OnDisk(const std::string& text) {
    return FileBytes(path()).find(text) != std::string::npos ||
           FileBytes(path() + "-wal").find(text) != std::string::npos;
  }

  User alice_, bob_;
};

// The send event is rewritten to the current text, and only the last edit
// is kept (Store::RewriteMessageEvents): an audit's 1,500 edits of one
// message each rewrote every earlier one, 46-119 ms an edit.
TEST_F(StoreRedactTest, EditRewritesTheSendToTheCurrentTextAndKeepsOnlyTheLastEdit) {
  const int64_t id = Send(alice_, "first draft, with a typo");
  ASSERT_OK(store_->Edit(alice_, id, "second draft"));
  ASSERT_OK_AND_ASSIGN(Message m, store_->Edit(alice_, id, "final words"));
  EXPECT_EQ(m.text, "final words");

  std::vector<Event> events = EventsOf(id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "message");  // the send keeps its type and id
  EXPECT_EQ(events[0].id, id);
  EXPECT_EQ(events[1].type, "edit");
  ASSERT_OK_AND_ASSIGN(int64_t head, store_->Head());
  EXPECT_EQ(events[1].id, head) << "the last edit's event";
  for (const Event& e : events) EXPECT_EQ(e.data, ToJson(m)) << e.type << " " << e.id;
  const std::vector<Event> replay = Replay();
  EXPECT_FALSE(AnyContains(replay, "first draft"));
  EXPECT_FALSE(AnyContains(replay, "second draft"));
  EXPECT_TRUE(AnyContains(replay, "final words"));
  // History reads the message as it now is.
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(bob_, kGeneral, std::nullopt, std::nullopt, 50));
  ASSERT_FALSE(page.messages.empty());
  EXPECT_EQ(page.messages.back().text, "final words");
  EXPECT_TRUE(page.messages.back().edited);
  // However many edits, the log holds two events of the message.
  for (int i = 0; i < 5; ++i) ASSERT_OK(store_->Edit(alice_, id, "draft " + std::to_string(i)));
  EXPECT_EQ(EventsOf(id).size(), 2u);
}

TEST_F(StoreRedactTest, DeleteTurnsEveryEarlierEventIntoTheTombstone) {
  const int64_t other = Send(bob_, "an unrelated message");
  const int64_t id = Send(alice_, "regret this at once");
  ASSERT_OK(store_->Edit(alice_, id, "regret this even more"));
  ASSERT_OK(store_->Delete(alice_, id));

  std::vector<Event> events = EventsOf(id);
  ASSERT_EQ(events.size(), 2u) << "the send and the delete; the edit goes";
  EXPECT_EQ(events[0].type, "message");
  EXPECT_EQ(events[1].type, "delete");
  for (const Event& e : events) {
    JsonPtr j(cJSON_Parse(e.data.c_str()));
    EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j.get(), "deleted"))) << e.data;
    EXPECT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j.get(), "text")), "") << e.data;
    EXPECT_EQ(e.data, events.back().data);
  }
  EXPECT_FALSE(AnyContains(Replay(), "regret this"));
  // Other messages are untouched.
  ASSERT_EQ(EventsOf(other).size(), 1u);
  EXPECT_NE(EventsOf(other)[0].data.find("an unrelated message"), std::string::npos);
  // Deleting twice changes nothing and appends nothing.
  ASSERT_OK_AND_ASSIGN(int64_t head, store_->Head());
  ASSERT_OK(store_->Delete(alice_, id));
  ASSERT_OK_AND_ASSIGN(int64_t head_again, store_->Head());
  EXPECT_EQ(head_again, head);
}

TEST_F(StoreRedactTest, ARefusedEditOrDeleteRewritesNothing) {
  const int64_t id = Send(alice_, "mine, not bob's");
  EXPECT_ERROR(store_->Edit(bob_, id, "bob was here"), Code::kForbidden, "not_author");
  EXPECT_ERROR(store_->Delete(bob_, id), Code::kForbidden, "not_author");
  std::vector<Event> events = EventsOf(id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0].data.find("mine, not bob's"), std::string::npos);
}

TEST_F(StoreRedactTest, DeletedAndOverwrittenTextIsNotInTheFilesAfterACheckpoint) {
  PARLEY_SQLITE_ONLY();  // SQLite's files and secure_delete
  // Short text lives in the events' and messages' own pages; text over a
  // page goes to overflow pages, which a delete frees.
  const std::string gone = "gone-text-7f3a9c";
  const std::string long_gone = std::string(3000, 'L') + "-long-gone-text-51e2" + std::string(3000, 'L');
  const std::string old_draft = "old-draft-text-c04d";
  const std::string kept = "kept-text-9b18aa";
  const int64_t a = Send(alice_, gone);
  const int64_t b = Send(alice_, long_gone);
  const int64_t c = Send(alice_, old_draft);
  Send(alice_, kept);
  Checkpoint();
  // The control: before the delete, the bytes hold every text.
  for (const std::string& t : {gone, std::string("-long-gone-text-51e2"), old_draft, kept}) {
    EXPECT_TRUE(OnDisk(t)) << t.substr(0, 40);
  }
  ASSERT_OK(store_->Delete(alice_, a));
  ASSERT_OK(store_->Delete(alice_, b));
  ASSERT_OK(store_->Edit(alice_, c, "new-draft-text-77aa"));
  Checkpoint();
  EXPECT_EQ(FileBytes(path() + "-wal").size(), 0u);  // TRUNCATE leaves no old frames
  EXPECT_FALSE(OnDisk(gone));
  EXPECT_FALSE(OnDisk("-long-gone-text-51e2"));
  EXPECT_FALSE(OnDisk(old_draft));
  EXPECT_TRUE(OnDisk(kept));
  EXPECT_TRUE(OnDisk("new-draft-text-77aa"));
  ASSERT_OK_AND_ASSIGN(std::string integrity, db_->IntegrityCheck());
  EXPECT_EQ(integrity, "ok");
}

TEST_F(StoreRedactTest, WithoutSecureDeleteTheTextWouldStay) {
  PARLEY_SQLITE_ONLY();  // SQLite's secure_delete
  // Why db.cc turns secure_delete on: the same delete on a connection
  // without it leaves the text in free space of the file (here in the
  // overflow pages that the long text filled and the delete freed).
  ASSERT_OK(db_->ExecScript("PRAGMA secure_delete=OFF"));
  const std::string gone = "lingering-text-3e8f01";
  const int64_t id = Send(alice_, std::string(3000, 'x') + gone + std::string(3000, 'x'));
  Checkpoint();
  ASSERT_OK(store_->Delete(alice_, id));
  Checkpoint();
  EXPECT_FALSE(AnyContains(Replay(), gone));  // no reader sees it ...
  EXPECT_TRUE(OnDisk(gone));                  // ... but the bytes are there
}

TEST_F(StoreRedactTest, Migration004TagsAndScrubsEventsWrittenBeforeIt) {
  PARLEY_SQLITE_ONLY();  // SQLite's migration 004
  // A database as an older binary left it: message events without
  // message_id, whose text was since deleted or edited.
  const int64_t deleted = Send(alice_, "deleted-before-004");
  const int64_t edited = Send(alice_, "draft-before-004");
  const int64_t plain = Send(alice_, "untouched-before-004");
  // No search indexing at these commits (the Store's, migration 009): the
  // tables it writes are dropped here and made again by Migrate.
  db_->SetBeforeCommit({});
  ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
  ASSERT_OK(db_->ExecScript(
      "DROP INDEX events_message; DROP INDEX events_broadcast; DROP INDEX events_target;"
      "ALTER TABLE events DROP COLUMN message_id;"
      // What migration 006 added, so that it can run again.
      "DROP TRIGGER messages_fts_insert; DROP TRIGGER messages_fts_update; DROP TRIGGER messages_fts_delete;"
      "DROP TABLE messages_fts; DROP TABLE mentions; DROP TABLE reactions; DROP INDEX rooms_activity;"
      "DROP INDEX messages_unread;"
      "ALTER TABLE rooms DROP COLUMN last_event_id; ALTER TABLE members DROP COLUMN notifications;"
      "UPDATE messages SET text = '', deleted = 1 WHERE id = " + std::to_string(deleted) + ";"
      "UPDATE messages SET text = 'final-after-004', edited_ts = 1 WHERE id = " + std::to_string(edited) + ";"
      // What 005 (moderation) added, so that it applies again on top.
      "DROP TABLE bans; DROP TABLE blocks; ALTER TABLE members DROP COLUMN moderator;"
      "ALTER TABLE members DROP COLUMN muted_until; ALTER TABLE users DROP COLUMN admin;"
      "ALTER TABLE users DROP COLUMN deactivated; ALTER TABLE messages DROP COLUMN deleted_by;"
      // And what 016 and 020 added.
      "DROP INDEX messages_deleted; ALTER TABLE messages DROP COLUMN seq; " + test::kUndoSince020 +
      "PRAGMA user_version = 3;"));
  ASSERT_OK(tx->Commit());
  ASSERT_TRUE(AnyContains(EventsOf(deleted), "deleted-before-004"));  // the leak 004 mends

  ASSERT_OK_AND_ASSIGN(int version, Migrate(*db_));
  EXPECT_EQ(version, LatestSchemaVersion());
  store_ = std::make_unique<Store>(*db_);  // its hook back
  std::vector<Event> d = EventsOf(deleted);
  ASSERT_EQ(d.size(), 1u);
  JsonPtr dj(cJSON_Parse(d[0].data.c_str()));
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dj.get(), "deleted"))) << d[0].data;
  EXPECT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dj.get(), "text")), "");
  std::vector<Event> e = EventsOf(edited);
  ASSERT_EQ(e.size(), 1u);
  JsonPtr ej(cJSON_Parse(e[0].data.c_str()));
  EXPECT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ej.get(), "text")), "final-after-004");
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ej.get(), "edited")));
  EXPECT_NE(EventsOf(plain)[0].data.find("untouched-before-004"), std::string::npos);
  // The backfilled message_id lets the next edit reach the old event.
  ASSERT_OK(store_->Edit(alice_, plain, "edited-after-004"));
  EXPECT_EQ(EventsOf(plain)[0].data.find("untouched-before-004"), std::string::npos);
  Checkpoint();
  EXPECT_FALSE(OnDisk("deleted-before-004"));
  EXPECT_FALSE(OnDisk("draft-before-004"));
  EXPECT_FALSE(OnDisk("untouched-before-004"));
}

// Migration 012: sends alone restart the WAL in place (its file keeps its
// size, so the next commits overwrite it rather than grow it), while an
// edit or a delete makes the next checkpoint truncate it, once.
TEST_F(StoreRedactTest, SendsRestartTheWalInPlaceAndAnEditOrADeleteTruncatesIt) {
  PARLEY_SQLITE_ONLY();  // SQLite's WAL file
  auto wal_bytes = [this] { return FileBytes(path() + "-wal").size(); };
  Send(alice_, "first");
  Checkpoint();  // the mark starts set: a new database truncates once
  EXPECT_EQ(wal_bytes(), 0u);
  for (int i = 0; i < 20; ++i) Send(alice_, "send " + std::to_string(i));
  const size_t grown = wal_bytes();
  ASSERT_GT(grown, 0u);
  Checkpoint();
  EXPECT_EQ(wal_bytes(), grown) << "restarted in place";
  Send(alice_, "overwrites the start");
  EXPECT_EQ(wal_bytes(), grown) << "the next commit overwrites; the file does not grow";

  const int64_t edited = Send(alice_, "draft-5d1e");
  ASSERT_OK(store_->Edit(alice_, edited, "final"));
  Checkpoint();
  EXPECT_EQ(wal_bytes(), 0u) << "an edit truncates";
  EXPECT_FALSE(OnDisk("draft-5d1e"));
  for (int i = 0; i < 5; ++i) Send(alice_, "again " + std::to_string(i));
  Checkpoint();
  EXPECT_GT(wal_bytes(), 0u) << "the mark was cleared: a restart again";

  const int64_t deleted = Send(alice_, "deleted-8c2f");
  ASSERT_OK(store_->Delete(alice_, deleted));
  Checkpoint();
  EXPECT_EQ(wal_bytes(), 0u) << "a delete truncates";
  EXPECT_FALSE(OnDisk("deleted-8c2f"));
}

}  // namespace
}  // namespace parley
