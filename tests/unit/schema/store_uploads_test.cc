// schema/store_uploads.cc: an upload's row commits only with its file in
// place, the per-user quota, who may read an upload, and attachments on
// messages (sent, loaded with history, dropped by a delete), and the
// lifecycle: uploads never attached expire, a deleted message's uploads are
// gone at once, their files collected in bounded steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/migrate.h"
#include "schema/store.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kGeneral;

class StoreUploadsTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits limits;
    limits.upload_quota_bytes = 100000;
    ASSERT_NO_FATAL_FAILURE(OpenStore(limits));
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
  }
  // Creates an upload of `size` bytes; `placed` records the id given to place().
  Result<Upload> Create(const User& u, int64_t size, Status place_result = Status::Ok()) {
    Upload up;
    up.name = "a.png";
    up.mime = "image/png";
    up.size = size;
    up.width = 2;
    up.height = 3;
    return store_->CreateUpload(u, up, [&](int64_t id) {
      placed_.push_back(id);
      return place_result;
    });
  }

  User alice_, bob_;
  std::vector<int64_t> placed_;
};

TEST_F(StoreUploadsTest, ARowCommitsOnlyWithItsFile) {
  auto failed = Create(alice_, 10, Status::Internal("disk full"));
  EXPECT_FALSE(failed.ok());
  ASSERT_EQ(placed_.size(), 1u);
  EXPECT_EQ(store_->ReadableUpload(alice_, placed_[0]).status().code(), Code::kNotFound) << "rolled back";

  auto ok = Create(alice_, 10);
  ASSERT_OK(ok);
  EXPECT_EQ(placed_.back(), ok->id);
  EXPECT_GT(ok->id, 0);
  EXPECT_LT(ok->id, int64_t{1} << 53);
  auto read = store_->ReadableUpload(alice_, ok->id);
  ASSERT_OK(read);
  EXPECT_EQ(read->size, 10);
  EXPECT_EQ(read->width, 2);
  EXPECT_EQ(read->height, 3);
}

TEST_F(StoreUploadsTest, QuotaIsPerUser) {
  ASSERT_OK(Create(alice_, 60000));
  auto over = Create(alice_, 40001);
  EXPECT_EQ(over.status().code(), Code::kTooLarge);
  EXPECT_EQ(over.status().reason(), "quota_exceeded");
  EXPECT_EQ(placed_.size(), 1u) << "no file is placed past the quota";
  EXPECT_OK(Create(alice_, 40000));
  EXPECT_OK(Create(bob_, 100000));
}

// A file takes at least a block on the disk: 200 one-byte uploads took
// 800 KiB of blocks while the quota counted 200 bytes. Each costs 4 KiB.
TEST_F(StoreUploadsTest, EachFileCostsAtLeastABlock) {
  ASSERT_OK(Create(alice_, 90000));
  ASSERT_OK(Create(alice_, 1));
  ASSERT_OK(Create(alice_, 1));  // 98,192 of 100,000
  auto over = Create(alice_, 1);
  EXPECT_EQ(over.status().reason(), "quota_exceeded");
  EXPECT_EQ(placed_.size(), 3u);
}

// The sweep's questions (events/upload_sweep.h): which files have no row,
// and the deployment's mark, made once whoever asks first.
TEST_F(StoreUploadsTest, RowlessIdsAndTheMark) {
  auto up = Create(alice_, 10);
  ASSERT_OK(up);
  auto missing = store_->UploadsWithoutRows({up->id, 77, 78});
  ASSERT_OK(missing);
  EXPECT_EQ(*missing, (std::vector<int64_t>{77, 78}));
  auto none = store_->UploadsMark(false);
  ASSERT_OK(none);
  EXPECT_EQ(*none, "");
  auto mark = store_->UploadsMark(true);
  ASSERT_OK(mark);
  EXPECT_FALSE(mark->empty());
  auto again = store_->UploadsMark(true);
  ASSERT_OK(again);
  EXPECT_EQ(*again, *mark) << "made once";
}

TEST_F(StoreUploadsTest, TheRoomReadsWhatWasPostedThereUntilItIsDeleted) {
  auto up = Create(alice_, 10);
  ASSERT_OK(up);
  EXPECT_EQ(store_->ReadableUpload(bob_, up->id).status().code(), Code::kNotFound);
  // Bob cannot attach alice's upload.
  auto stolen = store_->Send(bob_, kGeneral, "x", std::nullopt, std::nullopt, {up->id});
  EXPECT_EQ(stolen.status().reason(), "invalid_attachment");

  auto sent = store_->Send(alice_, kGeneral, "", std::nullopt, std::nullopt, {up->id});
  ASSERT_OK(sent);
  ASSERT_EQ(sent->message.attachments.size(), 1u);
  EXPECT_EQ(sent->message.attachments[0].id, up->id);
  EXPECT_OK(store_->ReadableUpload(bob_, up->id));
  auto page = store_->History(bob_, kGeneral, std::nullopt, std::nullopt, 50);
  ASSERT_OK(page);
  ASSERT_FALSE(page->messages.empty());
  ASSERT_EQ(page->messages.back().attachments.size(), 1u);
  EXPECT_EQ(page->messages.back().attachments[0].name, "a.png");

  ASSERT_OK(store_->Delete(alice_, sent->message.id));
  EXPECT_EQ(store_->ReadableUpload(bob_, up->id).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->ReadableUpload(alice_, up->id).status().code(), Code::kNotFound) << "its uploader's too";
  page = store_->History(bob_, kGeneral, std::nullopt, std::nullopt, 50);
  ASSERT_OK(page);
  EXPECT_TRUE(page->messages.back().attachments.empty());
}

// The lifecycle (store_uploads.cc's design note, migration 010).
class StoreUploadsLifecycleTest : public StoreUploadsTest {
 protected:
  // One collection step; the ids given to remove() go to removed_.
  Result<int64_t> Collect(int64_t keep_ms, int limit = 64, Status remove_result = Status::Ok()) {
    return store_->CollectUploads(keep_ms, limit, [&, remove_result](int64_t id) {
      if (remove_result.ok()) removed_.push_back(id);
      return remove_result;
    });
  }
  std::vector<int64_t> removed_;
};

constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr int64_t kEveryPending = -60000;  // a cutoff in the future: every pending upload is old

TEST_F(StoreUploadsLifecycleTest, ADeletedMessagesUploadIsGoneForEveryoneAndItsFileCollected) {
  auto up = Create(alice_, 60000);
  ASSERT_OK(up);
  auto sent = store_->Send(alice_, kGeneral, "look", std::nullopt, std::nullopt, {up->id});
  ASSERT_OK(sent);
  ASSERT_OK_AND_ASSIGN(int64_t none, Collect(kEveryPending));
  EXPECT_EQ(none, 0) << "an attached upload is never collected";
  EXPECT_OK(store_->ReadableUpload(bob_, up->id));

  ASSERT_OK(store_->Delete(alice_, sent->message.id));
  EXPECT_EQ(store_->ReadableUpload(alice_, up->id).status().reason(), "upload_not_found");
  EXPECT_EQ(store_->ReadableUpload(bob_, up->id).status().reason(), "upload_not_found");
  auto again = store_->Send(alice_, kGeneral, "again", std::nullopt, std::nullopt, {up->id});
  EXPECT_EQ(again.status().reason(), "invalid_attachment") << "it cannot be attached again either";
  EXPECT_OK(Create(alice_, 100000)) << "the quota was given back at the delete";

  ASSERT_OK_AND_ASSIGN(int64_t n, Collect(kDay));
  EXPECT_EQ(n, 1);
  EXPECT_EQ(removed_, std::vector<int64_t>{up->id});
  ASSERT_OK_AND_ASSIGN(n, Collect(kDay));
  EXPECT_EQ(n, 0) << "each file is removed once";
}

TEST_F(StoreUploadsLifecycleTest, AnUploadOnTwoMessagesStaysUntilBothAreDeleted) {
  auto up = Create(alice_, 10);
  ASSERT_OK(up);
  auto first = store_->Send(alice_, kGeneral, "one", std::nullopt, std::nullopt, {up->id});
  auto second = store_->Send(alice_, kGeneral, "two", std::nullopt, std::nullopt, {up->id});
  ASSERT_OK(first);
  ASSERT_OK(second);
  ASSERT_OK(store_->Delete(alice_, first->message.id));
  EXPECT_OK(store_->ReadableUpload(bob_, up->id)) << "the second message still carries it";
  ASSERT_OK_AND_ASSIGN(int64_t n, Collect(kEveryPending));
  EXPECT_EQ(n, 0);
  ASSERT_OK(store_->Delete(alice_, second->message.id));
  EXPECT_EQ(store_->ReadableUpload(bob_, up->id).status().code(), Code::kNotFound);
  ASSERT_OK_AND_ASSIGN(n, Collect(kDay));
  EXPECT_EQ(n, 1);
}

TEST_F(StoreUploadsLifecycleTest, UploadsNeverAttachedExpireInBoundedSteps) {
  std::vector<int64_t> loose;
  for (int i = 0; i < 3; ++i) {
    auto up = Create(alice_, 10);
    ASSERT_OK(up);
    loose.push_back(up->id);
  }
  auto kept = Create(alice_, 10);
  ASSERT_OK(kept);
  ASSERT_OK(store_->Send(alice_, kGeneral, "", std::nullopt, std::nullopt, {kept->id}));

  ASSERT_OK_AND_ASSIGN(int64_t n, Collect(kDay));
  EXPECT_EQ(n, 0) << "younger than a day";
  EXPECT_OK(store_->ReadableUpload(alice_, loose[0]));

  ASSERT_OK_AND_ASSIGN(n, Collect(kEveryPending, 2));
  EXPECT_EQ(n, 2) << "at most `limit` per step";
  ASSERT_OK_AND_ASSIGN(n, Collect(kEveryPending, 2));
  EXPECT_EQ(n, 1);
  std::sort(removed_.begin(), removed_.end());
  std::sort(loose.begin(), loose.end());
  EXPECT_EQ(removed_, loose);
  for (int64_t id : loose) EXPECT_EQ(store_->ReadableUpload(alice_, id).status().code(), Code::kNotFound);
  EXPECT_OK(store_->ReadableUpload(bob_, kept->id)) << "the attached one stays";
}

// Migration 010 on a database that had uploads already: the loose one
// becomes pending, the one carried only by a deleted message is trashed.
TEST_F(StoreUploadsLifecycleTest, Migration010SortsExistingUploads) {
  PARLEY_SQLITE_ONLY();  // PostgreSQL had no uploads before its 003 (schema/pg/migrations)
  auto loose = Create(alice_, 10);
  auto attached = Create(alice_, 10);
  auto orphaned = Create(alice_, 10);
  ASSERT_OK(loose);
  ASSERT_OK(attached);
  ASSERT_OK(orphaned);
  auto live = store_->Send(alice_, kGeneral, "", std::nullopt, std::nullopt, {attached->id});
  auto dead = store_->Send(alice_, kGeneral, "", std::nullopt, std::nullopt, {orphaned->id});
  ASSERT_OK(live);
  ASSERT_OK(dead);
  // As a delete left things before 010: a tombstone still carrying its upload.
  ASSERT_OK(db_->ExecScript("UPDATE messages SET deleted = 1 WHERE id = " + std::to_string(dead->message.id) +
                            "; DROP TABLE upload_pending; DROP TABLE upload_trash; " + test::kUndoSince020 +
                            "DROP INDEX messages_deleted; ALTER TABLE messages DROP COLUMN seq; PRAGMA user_version = 9;"));
  ASSERT_OK(Migrate(*db_));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_pending"), 1);
  EXPECT_EQ(QueryInt("SELECT upload_id FROM upload_pending"), loose->id);
  EXPECT_EQ(QueryInt("SELECT upload_id FROM upload_trash"), orphaned->id);
  EXPECT_EQ(store_->ReadableUpload(alice_, orphaned->id).status().code(), Code::kNotFound);
  EXPECT_OK(store_->ReadableUpload(bob_, attached->id));
  ASSERT_OK_AND_ASSIGN(int64_t n, Collect(kDay));
  EXPECT_EQ(n, 1);
  EXPECT_EQ(removed_, std::vector<int64_t>{orphaned->id});
}

TEST_F(StoreUploadsLifecycleTest, AFileThatWillNotGoIsTriedAgain) {
  auto up = Create(alice_, 10);
  ASSERT_OK(up);
  auto failed = Collect(kEveryPending, 64, Status::Internal("read-only file system"));
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(store_->ReadableUpload(alice_, up->id).status().code(), Code::kNotFound) << "the row went first";
  ASSERT_OK_AND_ASSIGN(int64_t n, Collect(kDay));
  EXPECT_EQ(n, 1);
  EXPECT_EQ(removed_, std::vector<int64_t>{up->id});
}

}  // namespace
}  // namespace parley
