// schema/store_search.cc and migrations 009 and 011: the search index
// is written at commit, by the commit that sends kIndexEveryRows messages
// (or, at the cadence of 009, by each commit that sends); a search finds
// the messages still waiting for it as well, and what it finds is exactly
// the messages' current text (FTS5's own integrity check compares index and
// messages); its segments merge at quiet points and stay bounded without
// them. Each test runs at both cadences (the parameter: 1 and
// Store::kIndexEveryRows).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/store.h"
#include "schema/write_batch.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

class StoreSearchTest : public test::StoreFixture, public ::testing::WithParamInterface<int64_t> {
 protected:
  void SetUp() override {
    Limits unlimited;
    unlimited.WritesOff();  // hundreds of sends in a moment
    ASSERT_NO_FATAL_FAILURE(OpenStore(unlimited));
    if (Store* s = sqlite()) s->IndexEvery(GetParam());
    alice_ = NewUser("alice");
    // Another connection, as a worker's read lane sees the commits.
    reader_ = NewStorage();
    ASSERT_NE(reader_, nullptr);
  }
  // The SQLite Store (null on PostgreSQL).
  Store* sqlite() { return dynamic_cast<Store*>(store_.get()); }
  bool every_commit() const { return GetParam() == 1; }
  int64_t Waiting() { return QueryInt("SELECT COUNT(*) FROM messages_fts_pending"); }
  Message Post(const std::string& text) {
    auto r = store_->Send(alice_, test::kGeneral, text, std::nullopt);
    EXPECT_OK(r) << text;
    return r.ok() ? r->message : Message{};
  }
  std::vector<std::string> Found(const std::string& match) { return Found(alice_, SearchQuery{match, {}, {}, {}, 20}); }
  std::vector<std::string> Found(const User& who, const SearchQuery& q) { return Hits(who, q, false); }
  // alice's hits' snippets, newest first.
  std::vector<std::string> Snippets(const std::string& match) {
    return Hits(alice_, SearchQuery{match, {}, {}, {}, 20}, true);
  }
  std::vector<std::string> Hits(const User& who, const SearchQuery& q, bool snippets) {
    auto page = reader_->Search(who, q);
    EXPECT_OK(page) << q.match;
    std::vector<std::string> out;
    if (page.ok()) {
      for (const SearchHit& h : page->results) out.push_back(snippets ? h.snippet : h.message.text);
    }
    return out;
  }
  // FTS5's check that the index holds exactly the content table's text
  // (rank 1: for an external-content table, compare with the content).
  void ExpectIndexMatchesMessages() {
    // PostgreSQL's tsvector is a generated column of the row: nothing to compare.
    if (test::OnPostgres()) return;
    ASSERT_OK(sqlite()->IndexWaiting());
    EXPECT_EQ(Waiting(), 0);
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    EXPECT_OK(db_->ExecScript("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)"));
    EXPECT_OK(tx->Commit());
  }

  // Segments of the index now (each has rows in messages_fts_idx).
  int64_t Segments() { return QueryInt("SELECT COUNT(DISTINCT segid) FROM messages_fts_idx"); }

  User alice_;
  std::unique_ptr<Storage> reader_;
};

TEST_P(StoreSearchTest, ABatchIsSearchableWhenItCommitsWithItsEditsAndDeletes) {
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
  // The same once every message is in the index.
  EXPECT_EQ(Found("\"kiwi\""), std::vector<std::string>{"kiwi one"});
  EXPECT_EQ(Found("\"mango\""), std::vector<std::string>{"mango final"});
  EXPECT_TRUE(Found("\"gone\"").empty());
}

TEST_P(StoreSearchTest, EditsAndDeletesOfIndexedMessagesKeepTheIndexExact) {
  Message edited = Post("papaya first");
  Message deleted = Post("papaya second");
  Post("papaya third");
  ASSERT_OK(store_->Edit(alice_, edited.id, "guava first"));
  ASSERT_OK(store_->Delete(alice_, deleted.id));
  EXPECT_EQ(Found("\"papaya\""), std::vector<std::string>{"papaya third"});
  EXPECT_EQ(Found("\"gu\"*"), std::vector<std::string>{"guava first"});
  ExpectIndexMatchesMessages();
}

TEST_P(StoreSearchTest, RowsWrittenWithoutAStoreAreFoundAtOnceAndIndexedWithTheNext) {
  // A connection without a Store (the sqlite3 shell, a bench loading data)
  // leaves its messages waiting; searches find them there, and the next
  // indexing commit through a Store indexes them.
  PARLEY_SQLITE_ONLY();
  auto bare = test::OpenDb(path(), false);
  ASSERT_NE(bare, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*bare, Transaction::Mode::kWrite));
    ASSERT_OK(bare->ExecScript("INSERT INTO messages(room_id, user_id, kind, text, ts) VALUES (1, " +
                               std::to_string(alice_.id) + ", 'message', 'quince bare', 0)"));
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(Waiting(), 1);
  EXPECT_EQ(Found("\"quince\""), std::vector<std::string>{"quince bare"});
  Post("quince sent");
  EXPECT_EQ(Waiting(), every_commit() ? 0 : 2);
  EXPECT_EQ(Found("\"quince\""), (std::vector<std::string>{"quince sent", "quince bare"}));
  ExpectIndexMatchesMessages();
}

// A commit indexes once its connection sent kIndexEveryRows
// messages since the last that did, everything waiting at once.
TEST_P(StoreSearchTest, TheCommitOfTheNthSendIndexesEverythingWaiting) {
  PARLEY_SQLITE_ONLY();
  const int64_t every = GetParam();
  const uint64_t before = db_->before_commits();
  for (int64_t i = 1; i < every; ++i) Post("cherry " + std::to_string(i));
  EXPECT_EQ(Waiting(), every - 1);
  EXPECT_EQ(db_->before_commits(), before);
  Post("cherry last");
  EXPECT_EQ(Waiting(), 0);
  EXPECT_EQ(db_->before_commits(), before + 1);
  EXPECT_EQ(Found("\"cherry\" \"last\""), std::vector<std::string>{"cherry last"});
  ExpectIndexMatchesMessages();
}

// One page across the waiting tail and the index: newest first, the cursor
// and the filters as for indexed messages, snippets marked alike.
TEST_P(StoreSearchTest, ThePagesRunAcrossWaitingAndIndexedMessages) {
  PARLEY_SQLITE_ONLY();
  User bob = NewUser("bob");
  JoinOk(bob, test::kGeneral);
  std::vector<int64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(Post("melon old " + std::to_string(i)).id);
  ASSERT_OK(sqlite()->IndexWaiting());
  for (int i = 0; i < 10; ++i) {
    auto r = store_->Send(i % 2 ? bob : alice_, test::kGeneral, "melon new " + std::to_string(i), std::nullopt);
    ASSERT_OK(r);
    ids.push_back(r->message.id);
  }
  EXPECT_EQ(Waiting(), every_commit() ? 0 : 10);
  SearchQuery q{"\"melon\"", {}, {}, {}, 15};
  ASSERT_OK_AND_ASSIGN(SearchPage first, reader_->Search(alice_, q));
  ASSERT_EQ(first.results.size(), 15u);
  EXPECT_TRUE(first.has_more());
  EXPECT_EQ(first.next_before, first.results.back().message.id);
  for (size_t i = 0; i < first.results.size(); ++i) EXPECT_EQ(first.results[i].message.id, ids[19 - i]) << i;
  EXPECT_EQ(first.results[0].snippet, "\x02melon\x03 new 9");
  EXPECT_EQ(first.results[14].snippet, "\x02melon\x03 old 5");
  q.before = first.results.back().message.id;
  ASSERT_OK_AND_ASSIGN(SearchPage rest, reader_->Search(alice_, q));
  ASSERT_EQ(rest.results.size(), 5u);
  EXPECT_FALSE(rest.has_more());
  EXPECT_FALSE(rest.next_before);
  EXPECT_EQ(rest.results[4].message.id, ids[0]);
  // From bob: only his, all of them waiting (or indexed) sends.
  EXPECT_EQ(Found(alice_, SearchQuery{"\"melon\"", {}, bob.id, {}, 20}),
            (std::vector<std::string>{"melon new 9", "melon new 7", "melon new 5", "melon new 3", "melon new 1"}));
  EXPECT_EQ(Found(alice_, SearchQuery{"\"mel\"*", test::kGeneral, {}, {}, 20}).size(), 20u);
  ExpectIndexMatchesMessages();
}

// Follows next_before from the newest page until a page says there is no
// more: every result's id, in order, and the number of pages.
std::pair<std::vector<int64_t>, int> WalkPages(Storage& store, const User& who, SearchQuery q) {
  std::vector<int64_t> found;
  int pages = 0;
  for (std::optional<int64_t> before;;) {
    ++pages;
    if (pages > 200) {
      ADD_FAILURE() << "the pages never end";
      break;
    }
    q.before = before;
    auto page = store.Search(who, q);
    EXPECT_OK(page);
    if (!page.ok()) break;
    EXPECT_LE(page->results.size(), static_cast<size_t>(q.limit));
    for (const SearchHit& h : page->results) found.push_back(h.message.id);
    if (!page->has_more()) break;
    before = page->next_before;
  }
  return {found, pages};
}

// A search reads at most q.scan matches of everyone's first. A reader in a
// few rooms (alice: one) whose messages lie behind more of others' matches
// than that reads on in their own rooms at once: the first page holds them.
TEST_P(StoreSearchTest, AReaderOfAFewRoomsFindsTheirOwnBehindOthersMatches) {
  User bob = NewUser("bob");
  Room busy = NewRoom(bob, "busy", RoomKind::kPrivate);
  std::vector<int64_t> mine;
  for (int i = 0; i < 3; ++i) mine.push_back(Post("kiwi mine " + std::to_string(i)).id);
  for (int i = 0; i < 30; ++i) ASSERT_OK(store_->Send(bob, busy.id, "kiwi theirs " + std::to_string(i), std::nullopt));
  // The bound is the index's: the tail of waiting messages is read whole.
  if (Store* s = sqlite()) {
    ASSERT_OK(s->IndexWaiting());
  }

  SearchQuery q{"\"kiwi\"", {}, {}, {}, 2};
  q.scan = 7;
  ASSERT_OK_AND_ASSIGN(SearchPage first, reader_->Search(alice_, q));
  ASSERT_EQ(first.results.size(), 2u);
  EXPECT_EQ(first.results[0].message.id, mine[2]);
  EXPECT_EQ(first.results[1].message.id, mine[1]);
  EXPECT_EQ(first.next_before, mine[1]);
  EXPECT_EQ(WalkPages(*reader_, alice_, q), std::make_pair(std::vector<int64_t>{mine[2], mine[1], mine[0]}, 2));
  // A search of one room of mine reads on in it the same way.
  q.room_id = test::kGeneral;
  EXPECT_EQ(WalkPages(*reader_, alice_, q), std::make_pair(std::vector<int64_t>{mine[2], mine[1], mine[0]}, 2));
}

// A reader in more rooms than kSearchRoomsFirst has no second step: pages
// stop where the scan of everyone's matches did (none of them holding
// anything at first), and following next_before finds each of their own
// messages once, newest first.
TEST_P(StoreSearchTest, AReaderOfManyRoomsPagesOnFromWhereTheScanStopped) {
  User bob = NewUser("bob");
  Room busy = NewRoom(bob, "busy", RoomKind::kPrivate);
  for (size_t i = 0; i < kSearchRoomsFirst; ++i) NewRoom(alice_, "mine-" + std::to_string(i), RoomKind::kPublic);
  std::vector<int64_t> mine, theirs;
  for (int i = 0; i < 3; ++i) mine.push_back(Post("kiwi mine " + std::to_string(i)).id);
  for (int i = 0; i < 30; ++i) {
    auto r = store_->Send(bob, busy.id, "kiwi theirs " + std::to_string(i), std::nullopt);
    ASSERT_OK(r);
    theirs.push_back(r->message.id);
  }
  if (Store* s = sqlite()) {
    ASSERT_OK(s->IndexWaiting());
  }

  SearchQuery q{"\"kiwi\"", {}, {}, {}, 2};
  q.scan = 7;
  ASSERT_OK_AND_ASSIGN(SearchPage first, reader_->Search(alice_, q));
  EXPECT_TRUE(first.results.empty());
  EXPECT_TRUE(first.has_more());
  EXPECT_EQ(first.next_before, theirs[30 - 7]);  // the 7th newest match
  // Four pages of 7 of theirs (28), then theirs 1 and 0 and mine 2 and 1
  // (the page of 2 is full: mine 0 is the one more), then mine 0.
  EXPECT_EQ(WalkPages(*reader_, alice_, q), std::make_pair(std::vector<int64_t>{mine[2], mine[1], mine[0]}, 6));
  // A page that fills before the bound goes on from its last result.
  q.scan = kSearchScan;
  q.before.reset();
  ASSERT_OK_AND_ASSIGN(SearchPage whole, reader_->Search(alice_, q));
  ASSERT_EQ(whole.results.size(), 2u);
  EXPECT_EQ(whole.next_before, mine[1]);
}

// The second step reads the reader's rooms in a window of about q.scan of
// their messages (each room's share), whatever the word: a word rare in
// busy rooms of mine takes several pages, and walking them finds every
// match I may see exactly once, newest first, across two rooms of mine
// whose messages interleave with each other's and with a room of others.
TEST_P(StoreSearchTest, TheSecondStepWalksMyRoomsInWindowsAndMissesNothing) {
  User bob = NewUser("bob");
  Room busy = NewRoom(bob, "busy", RoomKind::kPrivate);
  Room side = NewRoom(alice_, "side", RoomKind::kPublic);
  std::vector<int64_t> want;
  for (int i = 0; i < 120; ++i) {
    const bool plum = i % 7 == 3 || i % 11 == 0;
    const int64_t room = i % 3 == 0 ? busy.id : i % 3 == 1 ? test::kGeneral : side.id;
    const User& who = room == busy.id ? bob : alice_;
    auto r = store_->Send(who, room, std::string(plum ? "plum " : "pear ") + std::to_string(i), std::nullopt);
    ASSERT_OK(r);
    if (plum && room != busy.id) want.insert(want.begin(), r->message.id);
  }
  // Theirs after mine: the scan of everyone's stops in them.
  for (int i = 0; i < 20; ++i) ASSERT_OK(store_->Send(bob, busy.id, "plum late " + std::to_string(i), std::nullopt));
  if (Store* s = sqlite()) {
    ASSERT_OK(s->IndexWaiting());
  }

  SearchQuery q{"\"plum\"", {}, {}, {}, 3};
  q.scan = 10;  // a share of 5 messages a room
  auto [found, pages] = WalkPages(*reader_, alice_, q);
  EXPECT_EQ(found, want);
  EXPECT_GT(pages, static_cast<int>(want.size() + 2) / 3) << "the windows did not bound the pages' reads";
  // The same walk with one scan covering everything, for comparison.
  q.scan = kSearchScan;
  EXPECT_EQ(WalkPages(*reader_, alice_, q).first, want);
}

// The index holds each message's room (migration 014); the words of a
// search are looked for in the text only, never in a room's id.
TEST_P(StoreSearchTest, AWordIsNeverFoundInTheRoomId) {
  Post("no digits here");
  if (Store* s = sqlite()) {
    ASSERT_OK(s->IndexWaiting());
  }
  EXPECT_EQ(Found("\"" + std::to_string(test::kGeneral) + "\""), std::vector<std::string>{});
  EXPECT_EQ(Found("\"" + std::to_string(test::kGeneral) + "\"*"), std::vector<std::string>{});
  EXPECT_EQ(Found("\"digits\""), std::vector<std::string>{"no digits here"});
}

// A waiting message of a room I am not in is no more found than an indexed one.
TEST_P(StoreSearchTest, WaitingMessagesOfOtherRoomsAreNotFound) {
  User bob = NewUser("bob");
  Room secret = NewRoom(bob, "secret", RoomKind::kPrivate);
  auto sent = store_->Send(bob, secret.id, "walnut plans", std::nullopt);
  ASSERT_OK(sent);
  Post("walnut public");
  EXPECT_EQ(Found("\"walnut\""), std::vector<std::string>{"walnut public"});
  // bob is in both rooms (everyone joins the general room).
  EXPECT_EQ(Found(bob, SearchQuery{"\"walnut\"", {}, {}, {}, 20}),
            (std::vector<std::string>{"walnut public", "walnut plans"}));
  ExpectIndexMatchesMessages();
  EXPECT_EQ(Found("\"walnut\""), std::vector<std::string>{"walnut public"});
}

// Migration 011: commits do not merge (automerge 0) until a level holds 64
// segments; Store::MaintainIfDue merges levels of 16 or more at quiet points.
TEST_P(StoreSearchTest, AQuietMergeStepLeavesSearchResultsIdentical) {
  PARLEY_SQLITE_ONLY();  // FTS5's own segments and hooks
  if (!every_commit()) GTEST_SKIP() << "a segment per commit: the cadence of 009";
  EXPECT_EQ(QueryInt("SELECT v FROM messages_fts_config WHERE k = 'automerge'"), 0);
  EXPECT_EQ(QueryInt("SELECT v FROM messages_fts_config WHERE k = 'crisismerge'"), 64);
  EXPECT_EQ(QueryInt("SELECT v FROM messages_fts_config WHERE k = 'usermerge'"), 16);
  // A step is due after kMergeEveryCommits indexing commits; 20 more leave
  // 20 one-message segments on level 0 (none merged: fewer than 64).
  const int commits = static_cast<int>(Store::kMergeEveryCommits) + 20;
  for (int i = 0; i < commits; ++i) Post("fig " + std::to_string(i % 7) + " round" + std::to_string(i));
  const int64_t before = Segments();
  EXPECT_LT(before, 64) << "the commits merged each 64 segments of a level";
  EXPECT_GE(before, 20);
  const std::vector<std::string> word = Found("\"fig\" \"3\""), prefix = Found("\"rou\"*"),
                                 exact = Found("\"round17\"");
  EXPECT_EQ(word.size(), static_cast<size_t>((commits + 3) / 7));  // i % 7 == 3
  EXPECT_EQ(prefix.size(), 20u);  // a page
  EXPECT_EQ(exact, std::vector<std::string>{"fig 3 round17"});
  ASSERT_OK(store_->MaintainIfDue());
  const int64_t after = Segments();
  EXPECT_LE(after, before - 19) << "the step merged level 0's 20 segments into one";
  EXPECT_EQ(Found("\"fig\" \"3\""), word);
  EXPECT_EQ(Found("\"rou\"*"), prefix);
  EXPECT_EQ(Found("\"round17\""), exact);
  ExpectIndexMatchesMessages();
  // Not due again until as many commits more: nothing runs.
  const int fewer = static_cast<int>(Store::kMergeEveryCommits) - 1;
  for (int i = 0; i < fewer; ++i) Post("fig again " + std::to_string(i));
  ASSERT_OK(store_->MaintainIfDue());
  EXPECT_EQ(Segments(), after + fewer);
}

TEST_P(StoreSearchTest, SegmentsStayBoundedAfterManyCommitsWithAutomergeOff) {
  PARLEY_SQLITE_ONLY();  // FTS5's own segments and hooks
  if (!every_commit()) GTEST_SKIP() << "a segment per commit: the cadence of 009";
  // No quiet point at all: crisismerge bounds each level to 64 (merged at
  // the commit that would add a 65th).
  for (int i = 0; i < 300; ++i) {
    Post("plum " + std::to_string(i));
    ASSERT_LE(Segments(), 64) << "after commit " << i;
  }
  EXPECT_EQ(Found("\"plum\" \"123\""), std::vector<std::string>{"plum 123"});
  ExpectIndexMatchesMessages();
}

TEST_P(StoreSearchTest, ACommitThatSendsNothingRunsNoIndexStatement) {
  PARLEY_SQLITE_ONLY();  // FTS5's own segments and hooks
  const uint64_t before = db_->before_commits();
  ASSERT_OK(store_->CreateRoom(alice_, "quiet", RoomKind::kPublic, std::nullopt));
  EXPECT_EQ(db_->before_commits(), before) << "no message: the index is not touched";
  Post("apricot");
  EXPECT_EQ(db_->before_commits(), before + (every_commit() ? 1 : 0));
  EXPECT_EQ(Found("\"apricot\""), std::vector<std::string>{"apricot"});
}

TEST_P(StoreSearchTest, AFailedSendInABatchLeavesNothingWaiting) {
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
  EXPECT_EQ(Waiting(), every_commit() ? 0 : 1) << "the rolled-back send left no row";
  EXPECT_EQ(Found("\"lychee\""), std::vector<std::string>{"lychee kept"});
  ExpectIndexMatchesMessages();
}

// A text of at most 16 words is its own snippet, every match marked and
// nothing trimmed: FTS5's snippet() gives it whole. PostgreSQL's
// ts_headline fragments dropped what is not a word at either end (the "@" of
// a mention, a closing full stop), found by backends_diff_test.
TEST_P(StoreSearchTest, AShortTextIsItsOwnSnippetWithItsPunctuation) {
  Post("@bob said: kiwi, then kilo.");
  EXPECT_EQ(Snippets("\"kiwi\""), std::vector<std::string>{"@bob said: \x02kiwi\x03, then kilo."});
  EXPECT_EQ(Snippets("\"ki\"*"), std::vector<std::string>{"@bob said: \x02kiwi\x03, then \x02kilo\x03."});
}

// Accents fold, and so does the case of accented letters, on both backends
// (FTS5's unicode61 remove_diacritics 2; PostgreSQL's migration 005, in a
// database of LC_CTYPE C as well): the snippet marks the word as written.
TEST_P(StoreSearchTest, AccentsAndTheCaseOfAccentedLettersFold) {
  Post("Un CAFÉ à l'École, naïve");
  Post("plain cafe");
  const std::vector<std::string> both = {"plain cafe", "Un CAFÉ à l'École, naïve"};
  EXPECT_EQ(Found("\"cafe\""), both);
  EXPECT_EQ(Found("\"café\""), both);
  EXPECT_EQ(Found("\"CAFÉ\""), both);
  const std::vector<std::string> first = {"Un CAFÉ à l'École, naïve"};
  EXPECT_EQ(Found("\"ecole\""), first);
  EXPECT_EQ(Found("\"ÉCOLE\""), first);
  EXPECT_EQ(Found("\"NAIVE\" \"école\""), first);
  EXPECT_EQ(Found("\"éc\"*"), first);
  auto page = reader_->Search(alice_, SearchQuery{"\"cafe\" \"ecole\"", {}, {}, {}, 20});
  ASSERT_OK(page);
  ASSERT_EQ(page->results.size(), 1u);
  EXPECT_EQ(page->results[0].snippet, "Un \x02" "CAFÉ\x03 à l'\x02" "École\x03, naïve");
}

// The case of every alphabet folds, not only Latin's: FTS5's unicode61 on
// SQLite; on PostgreSQL the database's LC_CTYPE decides, and tools/pg makes
// its clusters (these tests' among them) with C.UTF-8, as initdb does by
// default on most hosts (README, "PostgreSQL and several hosts").
TEST_P(StoreSearchTest, TheCaseOfEveryAlphabetFolds) {
  Post("Мой ДОМ");
  Post("ΩΜΕΓΑ point");
  Post("дом и сад");
  EXPECT_EQ(Found("\"дом\""), (std::vector<std::string>{"дом и сад", "Мой ДОМ"}));
  EXPECT_EQ(Found("\"ДОМ\""), (std::vector<std::string>{"дом и сад", "Мой ДОМ"}));
  EXPECT_EQ(Found("\"ωμεγα\""), std::vector<std::string>{"ΩΜΕΓΑ point"});
  EXPECT_EQ(Found("\"Сад\""), std::vector<std::string>{"дом и сад"});
  EXPECT_EQ(Found("\"мо\"*"), std::vector<std::string>{"Мой ДОМ"});
}

// Kana words hold the prolonged sound mark (ー, halfwidth ｰ) and the
// iteration marks: letters (Lm) to FTS5's unicode61 and to PostgreSQL's
// parser, so a word goes on through them, and fcgi/search_query.cc counts
// them among a prefix's letters ("コー*" was refused there before).
TEST_P(StoreSearchTest, KanaWordsHoldTheirMarks) {
  Post("今日は コーヒー を");
  Post("ｺｰﾋｰ");
  Post("いすゞ と ヽヾ");
  const std::vector<std::string> coffee = {"今日は コーヒー を"};
  EXPECT_EQ(Found("\"コーヒー\""), coffee);
  EXPECT_EQ(Found("\"コー\"*"), coffee);
  EXPECT_EQ(Found("\"コーヒー\"*"), coffee);
  EXPECT_TRUE(Found("\"ヒー\"*").empty()) << "no word starts after the mark";
  EXPECT_TRUE(Found("\"ヒ\"*").empty());
  EXPECT_EQ(Found("\"ｺｰ\"*"), std::vector<std::string>{"ｺｰﾋｰ"});
  EXPECT_EQ(Found("\"いすゞ\""), std::vector<std::string>{"いすゞ と ヽヾ"});
  EXPECT_EQ(Found("\"ヽヾ\""), std::vector<std::string>{"いすゞ と ヽヾ"});
  EXPECT_TRUE(Found("\"いす\"").empty()) << "ゞ is inside the word";
}

// A word inside a host name, an address, a path or a date is a word, as
// FTS5's unicode61 reads runs of letters and digits. PostgreSQL's parser
// made "example.com", "ann@host.org" and "/srv/logs" one token each, and
// "2026-12-06" the numbers 2026, -12 and -06, so "example", "host", "logs"
// or "12" found nothing there (found by curl against both backends);
// PostgreSQL's migration 015 reads ASCII punctuation as a blank.
TEST_P(StoreSearchTest, WordsInsideHostsAddressesPathsAndDatesAreWords) {
  Post("see example.com/docs now");
  Post("mail ann@host.org today");
  Post("logs in /srv/logs since 2026-12-06");
  const std::vector<std::string> site = {"see example.com/docs now"};
  EXPECT_EQ(Found("\"example\""), site);
  EXPECT_EQ(Found("\"docs\""), site);
  EXPECT_EQ(Found("\"example.com\""), site) << "as typed, a phrase of its words";
  EXPECT_EQ(Found("\"exam\"*"), site);
  const std::vector<std::string> mail = {"mail ann@host.org today"};
  EXPECT_EQ(Found("\"host\""), mail);
  EXPECT_EQ(Found("\"ann\""), mail);
  EXPECT_EQ(Found("\"ann@host.org\""), mail);
  const std::vector<std::string> logs = {"logs in /srv/logs since 2026-12-06"};
  EXPECT_EQ(Found("\"srv\""), logs);
  EXPECT_EQ(Found("\"12\""), logs);
  EXPECT_EQ(Found("\"2026-12-06\""), logs);
  EXPECT_TRUE(Found("\"com\" \"ann\"").empty()) << "every term must occur in one message";
  // The snippet marks the word inside the token, and keeps the punctuation.
  EXPECT_EQ(Snippets("\"example\""), std::vector<std::string>{"see \x02" "example\x03.com/docs now"});
  EXPECT_EQ(Snippets("\"host\" \"org\""), std::vector<std::string>{"mail ann@\x02host\x03.\x02org\x03 today"});
  EXPECT_EQ(Snippets("\"12\""), std::vector<std::string>{"logs in /srv/logs since 2026-\x02" "12\x03-06"});
}

// A snippet longer than 16 words is one fragment of them; on PostgreSQL it
// is cut from the text's words with punctuation blanked, and gets its
// punctuation back (SnippetAsWritten).
TEST_P(StoreSearchTest, ALongTextsSnippetKeepsItsPunctuation) {
  Post("one, two; three: four. five! six? seven's eight-nine (ten) eleven twelve thirteen fourteen fifteen "
       "sixteen seventeen eighteen nineteen twenty kiwi.org twenty-one");
  auto page = reader_->Search(alice_, SearchQuery{"\"kiwi\"", {}, {}, {}, 20});
  ASSERT_OK(page);
  ASSERT_EQ(page->results.size(), 1u);
  const std::string& snippet = page->results[0].snippet;
  EXPECT_NE(snippet.find("\x02kiwi\x03.org"), std::string::npos) << snippet;
}

INSTANTIATE_TEST_SUITE_P(Cadence, StoreSearchTest, ::testing::Values(int64_t{1}, Store::kIndexEveryRows),
                         [](const ::testing::TestParamInfo<int64_t>& p) {
                           return p.param == 1 ? std::string("EveryCommit") : "Every" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace parley
