// schema/pg/store_uploads.cc against a real PostgreSQL server, messages and
// attachments laid out in SQL as a send leaves them (pg_store_fixture.h):
// who may read an upload, the lifecycle's collection, and the quota held
// across pools. store_uploads_test.cc holds the rest on both backends.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "schema/pg/store.h"
#include "schema/store_rules.h"
#include "tests/unit/schema/pg_lock_wait.h"
#include "tests/unit/schema/pg_store_fixture.h"

namespace parley::pg {
namespace {

using test::kPgGeneral;

constexpr int64_t kEveryPending = -60000;  // a cutoff in the future: every pending upload is old

class PgUploadsTest : public test::PgStoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgStoreFixture::SetUp());
    limits_.upload_quota_bytes = 100000;
    store_ = std::make_unique<PgStore>(*conn_, limits_);
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
  }
  Result<Upload> Create(Storage& store, const User& u, int64_t size) {
    Upload up;
    up.name = "a.png";
    up.mime = "image/png";
    up.size = size;
    return store.CreateUpload(u, up, [](int64_t) { return Status::Ok(); });
  }
  // A message of alice's in `room` carrying the upload, as Send leaves it; its id.
  int64_t Attach(int64_t room, int64_t upload_id) {
    const int64_t id = Post(room);
    EXPECT_OK(conn_->Exec("INSERT INTO messages (id, room_id, user_id, kind, text, ts) "
                          "VALUES ($1, $2, $3, 'message', '', 0)",
                          {id, room, alice_.id}));
    EXPECT_OK(conn_->Exec("INSERT INTO message_attachments (message_id, position, upload_id) VALUES ($1, 0, $2)",
                          {id, upload_id}));
    EXPECT_OK(conn_->Exec("DELETE FROM upload_pending WHERE upload_id = $1", {upload_id}));
    return id;
  }
  Result<int64_t> Collect(int64_t keep_ms, int limit = 64) {
    return store_->CollectUploads(keep_ms, limit, [&](int64_t id) {
      removed_.push_back(id);
      return Status::Ok();
    });
  }

  Limits limits_;
  User alice_, bob_;
  std::vector<int64_t> removed_;
};

TEST_F(PgUploadsTest, TheRoomReadsWhatWasPostedThereUntilItIsDeleted) {
  ASSERT_OK_AND_ASSIGN(Upload up, Create(*store_, alice_, 10));
  EXPECT_ERROR(store_->ReadableUpload(bob_, up.id), Code::kNotFound, "upload_not_found");
  ASSERT_OK_AND_ASSIGN(Upload own, store_->ReadableUpload(alice_, up.id));
  EXPECT_EQ(own.size, 10);
  EXPECT_EQ(own.user_id, alice_.id);
  EXPECT_FALSE(own.width.has_value());

  const int64_t message = Attach(kPgGeneral, up.id);
  EXPECT_OK(store_->ReadableUpload(bob_, up.id)) << "bob is in the room it was posted to";
  RemoveMember(kPgGeneral, bob_);
  EXPECT_ERROR(store_->ReadableUpload(bob_, up.id), Code::kNotFound, "upload_not_found");
  AddMember(kPgGeneral, bob_);
  ASSERT_OK(conn_->Exec("UPDATE messages SET deleted = 1 WHERE id = $1", {message}).status());
  EXPECT_ERROR(store_->ReadableUpload(bob_, up.id), Code::kNotFound, "upload_not_found");
}

// Each file costs at least a block against the quota, as on SQLite.
TEST_F(PgUploadsTest, EachFileCostsAtLeastABlock) {
  ASSERT_OK(Create(*store_, alice_, 90000));
  ASSERT_OK(Create(*store_, alice_, 1));
  ASSERT_OK(Create(*store_, alice_, 1));  // 98,192 of 100,000
  EXPECT_ERROR(Create(*store_, alice_, 1), Code::kTooLarge, "quota_exceeded");
}

// The sweep's questions (events/upload_sweep.h): which files have no row,
// and the deployment's mark, made once whoever asks first.
TEST_F(PgUploadsTest, RowlessIdsAndTheMark) {
  ASSERT_OK_AND_ASSIGN(Upload up, Create(*store_, alice_, 10));
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> missing, store_->UploadsWithoutRows({up.id, 77, 78}));
  EXPECT_EQ(missing, (std::vector<int64_t>{77, 78}));
  ASSERT_OK_AND_ASSIGN(std::string none, store_->UploadsMark(false));
  EXPECT_EQ(none, "");
  ASSERT_OK_AND_ASSIGN(std::string mark, store_->UploadsMark(true));
  EXPECT_FALSE(mark.empty());
  ASSERT_OK_AND_ASSIGN(std::string again, store_->UploadsMark(true));
  EXPECT_EQ(again, mark) << "made once";
}

TEST_F(PgUploadsTest, UploadsNeverAttachedExpireInBoundedStepsAndTheirFilesGoOnce) {
  std::vector<int64_t> loose;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(Upload up, Create(*store_, alice_, 10));
    loose.push_back(up.id);
  }
  ASSERT_OK_AND_ASSIGN(Upload kept, Create(*store_, alice_, 10));
  Attach(kPgGeneral, kept.id);

  ASSERT_OK_AND_ASSIGN(int64_t n, Collect(24LL * 3600 * 1000));
  EXPECT_EQ(n, 0) << "younger than a day";
  ASSERT_OK_AND_ASSIGN(n, Collect(kEveryPending, 2));
  EXPECT_EQ(n, 2) << "at most `limit` per step";
  ASSERT_OK_AND_ASSIGN(n, Collect(kEveryPending, 2));
  EXPECT_EQ(n, 1);
  ASSERT_OK_AND_ASSIGN(n, Collect(kEveryPending, 2));
  EXPECT_EQ(n, 0) << "each file is removed once";
  std::sort(removed_.begin(), removed_.end());
  std::sort(loose.begin(), loose.end());
  EXPECT_EQ(removed_, loose);
  for (int64_t id : loose) EXPECT_ERROR(store_->ReadableUpload(alice_, id), Code::kNotFound, "upload_not_found");
  EXPECT_OK(store_->ReadableUpload(bob_, kept.id)) << "the attached one stays";
  // 4 KiB for `kept` (each file costs a block at least) and the rest.
  EXPECT_OK(Create(*store_, alice_, 100000 - kUploadMinChargeBytes)) << "the expired ones gave their quota back";
}

// A send on another pool that is attaching an expired upload holds its row
// (FOR SHARE, as its ownership check does): the collection passes it by
// without waiting, and takes it at a later step if it stays unattached.
TEST_F(PgUploadsTest, ACollectionSkipsAnUploadASendIsAttaching) {
  ASSERT_OK_AND_ASSIGN(Upload up, Create(*store_, alice_, 10));
  auto send = OtherConn();
  ASSERT_NE(send, nullptr);
  ASSERT_OK(send->ExecScript("BEGIN"));
  ASSERT_OK(send->Exec("SELECT id FROM uploads WHERE id = $1 FOR SHARE", {up.id}).status());
  ASSERT_OK_AND_ASSIGN(int64_t n, Collect(kEveryPending));
  EXPECT_EQ(n, 0);
  EXPECT_OK(store_->ReadableUpload(alice_, up.id));
  ASSERT_OK(send->ExecScript("ROLLBACK"));  // the send failed: the upload stays loose
  ASSERT_OK_AND_ASSIGN(n, Collect(kEveryPending));
  EXPECT_EQ(n, 1);
  EXPECT_EQ(removed_, std::vector<int64_t>{up.id});
}

// Two uploads of one user on two pools at once, each fitting alone: the
// second waits for the first's COMMIT (the user's row is locked for the
// quota check) and then finds the quota used.
TEST_F(PgUploadsTest, TheQuotaHoldsAcrossPools) {
  auto a_conn = OtherConn(), b_conn = OtherConn(), watch = OtherConn();
  ASSERT_NE(a_conn, nullptr);
  ASSERT_NE(b_conn, nullptr);
  ASSERT_NE(watch, nullptr);
  // Without the upload rate: its bucket row, locked to COMMIT too, would
  // serialise the two on its own and hide what the quota check does.
  Limits limits = limits_;
  limits.rate(WriteClass::kUpload) = Rate{};
  PgStore a(*a_conn, limits), b(*b_conn, limits);
  test::LockRace race = test::RaceAfterOpenWrite(
      a, *b_conn, *watch, [&] { return Create(a, alice_, 60000).status(); },
      [&] { return Create(b, alice_, 60000).status(); });
  EXPECT_TRUE(race.waited);
  EXPECT_ERROR(race.second, Code::kTooLarge, "quota_exceeded");
  EXPECT_EQ(QueryInt("SELECT COALESCE(SUM(size), 0) FROM uploads"), 60000);
}

}  // namespace
}  // namespace parley::pg
