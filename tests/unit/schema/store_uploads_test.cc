// schema/store_uploads.cc: an upload's row commits only with its file in
// place, the per-user quota, who may read an upload, and attachments on
// messages (sent, loaded with history, dropped by a delete).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/store.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kGeneral;

class StoreUploadsTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits limits;
    limits.upload_quota_bytes = 1000;
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
  ASSERT_OK(Create(alice_, 600));
  auto over = Create(alice_, 401);
  EXPECT_EQ(over.status().code(), Code::kTooLarge);
  EXPECT_EQ(over.status().reason(), "quota_exceeded");
  EXPECT_EQ(placed_.size(), 1u) << "no file is placed past the quota";
  EXPECT_OK(Create(alice_, 400));
  EXPECT_OK(Create(bob_, 1000));
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
  EXPECT_OK(store_->ReadableUpload(alice_, up->id));
  page = store_->History(bob_, kGeneral, std::nullopt, std::nullopt, 50);
  ASSERT_OK(page);
  EXPECT_TRUE(page->messages.back().attachments.empty());
}

}  // namespace
}  // namespace parley
