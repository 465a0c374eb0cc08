// schema/store_search.cc and migrations 009 and 011: the search index is
// written at commit, once per transaction or write batch, and is then exactly
// the messages' current text (FTS5's own integrity check compares the two);
// its segments merge at quiet points and stay bounded without them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/store.h"
#include "schema/write_batch.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

class StoreSearchTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits unlimited;
    unlimited.WritesOff();  // hundreds of sends in a moment
    ASSERT_NO_FATAL_FAILURE(OpenStore(unlimited));
    alice_ = NewUser("alice");
    // Another connection, as a worker's read lane sees the commits.
    reader_ = NewStorage();
    ASSERT_NE(reader_, nullptr);
  }
  Message Post(const std::string& text) {
    auto r = store_->Send(alice_, test::kGeneral, text, std::nullopt);
    EXPECT_OK(r) << text;
    return r.ok() ? r->message : Message{};
  }
  std::vector<std::string> Found(const std::string& match) {
    SearchQuery q;
    q.match = match;
    auto page = reader_->Search(alice_, q);
    EXPECT_OK(page) << match;
    std::vector<std::string> texts;
    if (page.ok()) {
      for (const SearchHit& h : page->results) texts.push_back(h.message.text);
    }
    return texts;
  }
  // FTS5's check that the index holds exactly the content table's text
  // (rank 1: for an external-content table, compare with the content).
  void ExpectIndexMatchesMessages() {
    // PostgreSQL's tsvector is a generated column of the row: nothing to compare.
    if (test::OnPostgres()) return;
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    EXPECT_OK(db_->ExecScript("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)"));
    EXPECT_OK(tx->Commit());
    EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages_fts_pending"), 0);
  }

  // Segments of the index now (each has rows in messages_fts_idx).
  int64_t Segments() { return QueryInt("SELECT COUNT(DISTINCT segid) FROM messages_fts_idx"); }

  User alice_;
  std::unique_ptr<Storage> reader_;
};

TEST_F(StoreSearchTest, ABatchIsSearchableWhenItCommitsWithItsEditsAndDeletes) {
  auto batch = store_->BeginBatch();
  ASSERT_OK(batch);
  Post("kiwi one");
  Message edited = Post("kiwi draft");
  Message deleted = Post("kiwi gone");
  // Edited and deleted while still pending: indexed as they read at commit.
  ASSERT_OK(store_->Edit(alice_, edited.id, "mango final"));
  ASSERT_OK(store_->Delete(alice_, deleted.id));
  EXPECT_TRUE(Found("\"kiwi\"").empty()) << "nothing is visible before the commit";
  ASSERT_OK((*batch)->Commit());
  EXPECT_EQ(Found("\"kiwi\""), std::vector<std::string>{"kiwi one"});
  EXPECT_EQ(Found("\"mango\""), std::vector<std::string>{"mango final"});
  EXPECT_TRUE(Found("\"draft\"").empty());
  EXPECT_TRUE(Found("\"gone\"").empty());
  ExpectIndexMatchesMessages();
}

TEST_F(StoreSearchTest, EditsAndDeletesOfIndexedMessagesKeepTheIndexExact) {
  Message edited = Post("papaya first");
  Message deleted = Post("papaya second");
  Post("papaya third");
  ASSERT_OK(store_->Edit(alice_, edited.id, "guava first"));
  ASSERT_OK(store_->Delete(alice_, deleted.id));
  EXPECT_EQ(Found("\"papaya\""), std::vector<std::string>{"papaya third"});
  EXPECT_EQ(Found("\"gu\"*"), std::vector<std::string>{"guava first"});
  ExpectIndexMatchesMessages();
}

TEST_F(StoreSearchTest, RowsWrittenWithoutAStoreAreIndexedByTheNextCommit) {
  // A connection without a Store (the sqlite3 shell, a bench loading data)
  // leaves its messages pending; the next commit through a Store indexes them.
  PARLEY_SQLITE_ONLY();
  auto bare = test::OpenDb(path(), false);
  ASSERT_NE(bare, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*bare, Transaction::Mode::kWrite));
    ASSERT_OK(bare->ExecScript("INSERT INTO messages(room_id, user_id, kind, text, ts) VALUES (1, " +
                               std::to_string(alice_.id) + ", 'message', 'quince bare', 0)"));
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages_fts_pending"), 1);
  EXPECT_TRUE(Found("\"quince\"").empty());
  Post("quince sent");
  EXPECT_EQ(Found("\"quince\""), (std::vector<std::string>{"quince sent", "quince bare"}));
  ExpectIndexMatchesMessages();
}

// Migration 011: commits do not merge (automerge 0) until a level holds 64
// segments; Store::MaintainIfDue merges levels of 16 or more at quiet points.
TEST_F(StoreSearchTest, AQuietMergeStepLeavesSearchResultsIdentical) {
  PARLEY_SQLITE_ONLY();  // FTS5's own segments and hooks
  EXPECT_EQ(QueryInt("SELECT v FROM messages_fts_config WHERE k = 'automerge'"), 0);
  EXPECT_EQ(QueryInt("SELECT v FROM messages_fts_config WHERE k = 'crisismerge'"), 64);
  EXPECT_EQ(QueryInt("SELECT v FROM messages_fts_config WHERE k = 'usermerge'"), 16);
  ASSERT_OK(db_->ExecScript("PRAGMA synchronous=OFF"));  // hundreds of commits, no fsync: the test stays cheap
  // A step is due after kMergeEveryCommits indexing commits; 20 more leave
  // 20 one-message segments on level 0 (the commits merged each 64 before).
  const int commits = static_cast<int>(Store::kMergeEveryCommits) + 20;
  for (int i = 0; i < commits; ++i) Post("fig " + std::to_string(i % 7) + " round" + std::to_string(i));
  const int64_t before = Segments();
  EXPECT_LT(before, 64) << "the commits merged each 64 segments of a level";
  EXPECT_GE(before, 20);
  const std::vector<std::string> word = Found("\"fig\" \"3\""), prefix = Found("\"rou\"*"),
                                 exact = Found("\"round17\"");
  EXPECT_EQ(word.size(), 20u);  // a page
  EXPECT_EQ(prefix.size(), 20u);
  EXPECT_EQ(exact, std::vector<std::string>{"fig 3 round17"});
  ASSERT_OK(store_->MaintainIfDue());
  const int64_t after = Segments();
  EXPECT_LE(after, before - 19) << "the step merged level 0's 20 segments into one";
  EXPECT_EQ(Found("\"fig\" \"3\""), word);
  EXPECT_EQ(Found("\"rou\"*"), prefix);
  EXPECT_EQ(Found("\"round17\""), exact);
  ExpectIndexMatchesMessages();
  // Not due again until as many commits more: nothing runs.
  for (int i = 0; i < 20; ++i) Post("fig again " + std::to_string(i));
  ASSERT_OK(store_->MaintainIfDue());
  EXPECT_EQ(Segments(), after + 20);
}

TEST_F(StoreSearchTest, SegmentsStayBoundedAfterManyCommitsWithAutomergeOff) {
  PARLEY_SQLITE_ONLY();  // FTS5's own segments and hooks
  ASSERT_OK(db_->ExecScript("PRAGMA synchronous=OFF"));  // 300 commits, no fsync
  // No quiet point at all: crisismerge bounds each level to 64 (merged at
  // the commit that would add a 65th).
  for (int i = 0; i < 300; ++i) {
    Post("plum " + std::to_string(i));
    ASSERT_LE(Segments(), 64) << "after commit " << i;
  }
  EXPECT_EQ(Found("\"plum\" \"123\""), std::vector<std::string>{"plum 123"});
  ExpectIndexMatchesMessages();
}

TEST_F(StoreSearchTest, ACommitThatSendsNothingRunsNoIndexStatement) {
  PARLEY_SQLITE_ONLY();  // FTS5's own segments and hooks
  const uint64_t before = db_->before_commits();
  ASSERT_OK(store_->CreateRoom(alice_, "quiet", RoomKind::kPublic, std::nullopt));
  EXPECT_EQ(db_->before_commits(), before) << "no message: the index is not touched";
  Post("apricot");
  EXPECT_EQ(db_->before_commits(), before + 1);
  EXPECT_EQ(Found("\"apricot\""), std::vector<std::string>{"apricot"});
}

TEST_F(StoreSearchTest, AFailedSendInABatchLeavesNothingPending) {
  PARLEY_SQLITE_ONLY();  // migration 009's pending table
  auto batch = WriteBatch::Begin(*db_);
  ASSERT_OK(batch);
  Post("lychee kept");
  {
    // A send whose savepoint rolls back (as a 403 or 409 does).
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    ASSERT_OK(db_->ExecScript("INSERT INTO messages(room_id, user_id, kind, text, ts) VALUES (1, " +
                              std::to_string(alice_.id) + ", 'message', 'lychee rolled back', 0)"));
  }
  ASSERT_OK((*batch)->Commit());
  EXPECT_EQ(Found("\"lychee\""), std::vector<std::string>{"lychee kept"});
  ExpectIndexMatchesMessages();
}

}  // namespace
}  // namespace parley
