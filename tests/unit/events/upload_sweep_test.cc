// events/upload_sweep.cc: the step parley-events runs to collect unused
// uploads removes their files from the uploads directory beside the
// database (real files, a real store), a bounded number per step.
#include "events/upload_sweep.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "schema/backend/backend.h"
#include "schema/uploads_mark.h"
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
    // As parley-fcgi's workers do at their start (fcgi/uploads_dir.h).
    auto mark = store_->UploadsMark(/*create=*/true);
    ASSERT_OK(mark);
    ASSERT_OK(WriteUploadsMark(Dir(), *mark));
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

  // A file at `path` last written `age_s` seconds ago.
  static void Plant(const std::string& path, int64_t age_s) {
    std::ofstream(path) << "bytes";
    const timespec when[2] = {{time(nullptr) - age_s, 0}, {time(nullptr) - age_s, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), when, 0), 0) << path;
  }
  static bool Present(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
  }

  Config cfg_;
  User alice_;
  UploadSweep sweep_;
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
  EXPECT_FALSE(sweep_.Step(*store_, cfg_)) << "not a full step";
  EXPECT_FALSE(Exists(loose));
  EXPECT_TRUE(Exists(sent)) << "an attached upload stays";
  EXPECT_EQ(store_->ReadableUpload(alice_, loose).status().code(), Code::kNotFound);
}

TEST_F(UploadSweepTest, AFullStepSaysSoAndTheNextTakesTheRest) {
  std::vector<int64_t> ids;
  for (int i = 0; i < kUploadsPerStep + 3; ++i) ids.push_back(Upload());
  EXPECT_TRUE(sweep_.Step(*store_, cfg_)) << "more may be waiting";
  int left = 0;
  for (int64_t id : ids) left += Exists(id) ? 1 : 0;
  EXPECT_EQ(left, 3);
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  for (int64_t id : ids) EXPECT_FALSE(Exists(id)) << id;
}

TEST_F(UploadSweepTest, AFileAlreadyGoneIsNoError) {
  const int64_t id = Upload();
  ASSERT_EQ(unlink(File(id).c_str()), 0);
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 0) << "its trash row is done";
}

// PostgreSQL on several hosts: a daemon whose --data does not hold the
// files found each one missing and dropped its trash row, so the host that
// had the file never removed it. Without this deployment's mark in its
// uploads directory a daemon removes nothing and the trash waits.
TEST_F(UploadSweepTest, ADirectoryWithoutThisDeploymentsMarkIsNotSwept) {
  const int64_t id = Upload();
  // Its row gone to the trash, its file kept (as after a removal that failed).
  EXPECT_FALSE(store_->CollectUploads(cfg_.upload_keep_ms, 64, [](int64_t) { return Status::Internal("not now"); })
                   .ok());
  ASSERT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 1);
  test::TempDir other;
  cfg_.data_dir = other.path();  // no uploads directory at all
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 1) << "the trash waits";
  ASSERT_EQ(mkdir(UploadsDir(other.path()).c_str(), 0700), 0);  // one, but no pool's
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 1);
  ASSERT_OK(WriteUploadsMark(UploadsDir(other.path()), "another deployment"));
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 1);
  EXPECT_TRUE(Exists(id));
  // The pools' directory: swept.
  cfg_.data_dir = dir_.path();
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  EXPECT_FALSE(Exists(id));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM upload_trash"), 0);
}

// A worker that died between moving a file into uploads/ and committing its
// row left the file for good, and nginx, killed while it held a body, its
// spool file. Old enough, both go; fresh ones, files with a row, the mark
// and names that are not ours stay.
TEST_F(UploadSweepTest, StraysOldEnoughAreRemovedAndNothingElse) {
  cfg_.upload_keep_ms = 86400000;  // the upload below is not expired
  const int64_t kept = Upload();
  const std::string spool = SpoolDir(dir_.path());
  ASSERT_EQ(mkdir(spool.c_str(), 0700), 0);
  Plant(File(kept), 2 * kStrayUploadAgeS);              // old, with its row
  Plant(File(4242), kStrayUploadAgeS + 60);             // old, no row: a stray
  Plant(File(4343), kStrayUploadAgeS - 60);             // no row yet: maybe committing
  Plant(Dir() + "/notes", 2 * kStrayUploadAgeS);        // not a name of ours
  Plant(spool + "/0000000042", kStraySpoolAgeS + 60);   // a body nginx left
  Plant(spool + "/0000000043", kStraySpoolAgeS - 600);  // a live, slow one
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  EXPECT_TRUE(Exists(kept));
  EXPECT_FALSE(Exists(4242)) << "a file with no row";
  EXPECT_TRUE(Exists(4343));
  EXPECT_TRUE(Present(Dir() + "/notes"));
  EXPECT_TRUE(Present(UploadsMarkPath(Dir())));
  EXPECT_FALSE(Present(spool + "/0000000042")) << "a spool file nginx left";
  EXPECT_TRUE(Present(spool + "/0000000043"));
  // The next pass is an hour away: a stray planted now waits for it.
  Plant(File(4444), 2 * kStrayUploadAgeS);
  EXPECT_FALSE(sweep_.Step(*store_, cfg_));
  EXPECT_TRUE(Exists(4444));
}

}  // namespace
}  // namespace parley::events
