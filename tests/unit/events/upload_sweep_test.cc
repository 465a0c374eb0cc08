// events/upload_sweep.cc: the step parley-events runs to collect unused
// uploads removes their files from the uploads directory beside the
// database (real files, a real store), a bounded number per step.
#include "events/upload_sweep.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "schema/backend/backend.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley::events {
namespace {

class UploadSweepTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits limits;
    limits.WritesOff();  // more uploads than the upload bucket's burst
    ASSERT_NO_FATAL_FAILURE(OpenStore(limits));
    ASSERT_EQ(mkdir(Dir().c_str(), 0700), 0);
    cfg_.db = path();
    cfg_.data_dir = dir_.path();
    cfg_.upload_keep_ms = -60000;  // every upload never attached is due
    alice_ = NewUser("alice");
  }
  std::string Dir() const { return UploadsDir(dir_.path()); }
  std::string File(int64_t id) const { return Dir() + "/" + std::to_string(id); }
  bool Exists(int64_t id) const {
    struct stat st {};
    return stat(File(id).c_str(), &st) == 0;
  }
  // An upload with its file in place, as parley-fcgi makes one.
  int64_t Upload() {
    parley::Upload u;
    u.name = "notes.txt";
    u.mime = "text/plain";
    u.size = 5;
    auto made = store_->CreateUpload(alice_, u, [&](int64_t id) {
      std::ofstream(File(id)) << "notes";
      return Status::Ok();
    });
    EXPECT_OK(made);
    return made.ok() ? made->id : 0;
  }

  Config cfg_;
  User alice_;
};

TEST_F(UploadSweepTest, TheUploadsDirectoryIsUnderTheDataDirectory) {
  EXPECT_EQ(UploadsDir("/var/lib/parley"), "/var/lib/parley/uploads");
  // Beside an SQLite file by default; PostgreSQL has no default.
  EXPECT_EQ(DefaultDataDir("/var/lib/parley/parley.db"), "/var/lib/parley");
  EXPECT_EQ(DefaultDataDir("parley.db"), ".");
  EXPECT_EQ(DefaultDataDir("postgresql://parley@/parley?host=/run/postgresql"), "");
}

TEST_F(UploadSweepTest, RemovesTheFilesOfUnusedUploadsOnly) {
  const int64_t loose = Upload();
  const int64_t sent = Upload();
  ASSERT_OK(store_->Send(alice_, test::kGeneral, "", std::nullopt, std::nullopt, {sent}));
  ASSERT_TRUE(Exists(loose));
  EXPECT_FALSE(SweepUploads(*store_, cfg_)) << "not a full step";
  EXPECT_FALSE(Exists(loose));
  EXPECT_TRUE(Exists(sent)) << "an attached upload stays";
  EXPECT_EQ(store_->ReadableUpload(alice_, loose).status().code(), Code::kNotFound);
}

TEST_F(UploadSweepTest, AFullStepSaysSoAndTheNextTakesTheRest) {
  std::vector<int64_t> ids;
  for (int i = 0; i < kUploadsPerStep + 3; ++i) ids.push_back(Upload());
  EXPECT_TRUE(SweepUploads(*store_, cfg_)) << "more may be waiting";
  int left = 0;
  for (int64_t id : ids) left += Exists(id) ? 1 : 0;
  EXPECT_EQ(left, 3);
  EXPECT_FALSE(SweepUploads(*store_, cfg_));
  for (int64_t id : ids) EXPECT_FALSE(Exists(id)) << id;
}

TEST_F(UploadSweepTest, AFileAlreadyGoneIsNoError) {
  const int64_t id = Upload();
  ASSERT_EQ(unlink(File(id).c_str()), 0);
  EXPECT_FALSE(SweepUploads(*store_, cfg_));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 0) << "its trash row is done";
}

}  // namespace
}  // namespace parley::events
