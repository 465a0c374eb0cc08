#include "schema/message_index.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/temp_db.h"

namespace parley {
namespace {

std::vector<Message> WithIds(const std::vector<int64_t>& ids) {
  std::vector<Message> out;
  for (int64_t id : ids) {
    Message m;
    m.id = id;
    out.push_back(m);
  }
  return out;
}

TEST(MessageIndexTest, NearbyIdsShareOneRangeAndFarOnesStartAnother) {
  const int64_t gap = MessageIndex::kRunGap;
  std::vector<Message> list = WithIds({10 + 2 * gap, 10, 10 + 3 * gap + 1, 10 + gap, 5000, 5000 + gap});
  MessageIndex index(list);
  ASSERT_EQ(index.ranges().size(), 3u);
  EXPECT_EQ(index.ranges()[0].lo, 10);
  EXPECT_EQ(index.ranges()[0].hi, 10 + 2 * gap);
  EXPECT_EQ(index.ranges()[1].lo, 10 + 3 * gap + 1);
  EXPECT_EQ(index.ranges()[1].hi, 10 + 3 * gap + 1);
  EXPECT_EQ(index.ranges()[2].lo, 5000);
  EXPECT_EQ(index.ranges()[2].hi, 5000 + gap);
}

TEST(MessageIndexTest, FindsListedMessagesOnly) {
  std::vector<Message> list = WithIds({7, 3, 12});
  MessageIndex index(list);
  EXPECT_EQ(index.Find(3), &list[1]);
  EXPECT_EQ(index.Find(7), &list[0]);
  EXPECT_EQ(index.Find(12), &list[2]);
  EXPECT_EQ(index.Find(5), nullptr);  // inside the range, another room's
  EXPECT_EQ(index.Find(13), nullptr);
}

// Each range runs the statement again, and a reset clears every binding:
// what bind_more binds holds in every range, and rows of unlisted ids are
// skipped. A real SQLite table; the ids make two ranges.
TEST(MessageIndexTest, EveryRangeRunsWithItsOwnAndTheExtraBindings) {
  test::TempDir dir;
  auto db = test::OpenDb(dir.path() + "/t.db", false);
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->ExecScript("CREATE TABLE d(message_id INTEGER, owner INTEGER);"
                           "INSERT INTO d VALUES (10, 1), (11, 1), (11, 2), (5000, 1), (5000, 2), (5001, 1);"));
  std::vector<Message> list = WithIds({10, 5000});
  MessageIndex index(list);
  ASSERT_EQ(index.ranges().size(), 2u);
  ASSERT_OK_AND_ASSIGN(Statement s, db->Prepare(
      "SELECT message_id, owner FROM d WHERE message_id BETWEEN ?1 AND ?2 AND owner = ?3 ORDER BY message_id"));
  ASSERT_OK(index.ForEachRow(
      s, [](Statement& q) { q.Bind(3, int64_t{2}); },
      [](Message& m, const Statement& row) { m.mentions.push_back(row.Int(1)); }));
  EXPECT_TRUE(list[0].mentions.empty());  // 10 has no owner-2 row; 11 is not listed
  EXPECT_EQ(list[1].mentions, std::vector<int64_t>{2});
}

// A range full of unlisted messages' rows (another room's, each with a
// detail row) is given up once it has read kForeignRowsPerMessage of them
// for each listed message in it; the listed ids after where it stopped are
// read one by one. Each listed message gets all its rows, once.
TEST(MessageIndexTest, ARangeFullOfOthersRowsIsGivenUpForOneReadAListedId) {
  test::TempDir dir;
  auto db = test::OpenDb(dir.path() + "/t.db", false);
  ASSERT_NE(db, nullptr);
  ASSERT_OK(db->ExecScript(
      "CREATE TABLE d(message_id INTEGER, n INTEGER);"
      "WITH RECURSIVE c(x) AS (SELECT 11 UNION ALL SELECT x + 1 FROM c WHERE x < 499) "
      "INSERT INTO d SELECT x, 0 FROM c WHERE x <> 300;"
      "INSERT INTO d VALUES (10, 1), (10, 2), (300, 1), (500, 1), (500, 2), (500, 3);"));
  std::vector<Message> list = WithIds({10, 300, 500});
  MessageIndex index(list);
  ASSERT_EQ(index.ranges().size(), 1u) << "one range, with 487 rows of others inside";
  ASSERT_OK_AND_ASSIGN(Statement s, db->Prepare(
      "SELECT message_id, n FROM d WHERE message_id BETWEEN ?1 AND ?2 ORDER BY message_id, n"));
  int runs = 0;
  ASSERT_OK(index.ForEachRow(
      s, [&](Statement&) { ++runs; }, [](Message& m, const Statement& row) { m.mentions.push_back(row.Int(1)); }));
  EXPECT_EQ(list[0].mentions, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(list[1].mentions, (std::vector<int64_t>{1}));
  EXPECT_EQ(list[2].mentions, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(runs, 3) << "the range, given up, then 300 and 500 alone";
}

TEST(MessageIndexTest, AnEmptyListHasNoRange) {
  std::vector<Message> none;
  MessageIndex index(none);
  EXPECT_TRUE(index.empty());
  EXPECT_TRUE(index.ranges().empty());
}

}  // namespace
}  // namespace parley
