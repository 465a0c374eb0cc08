// fcgi/uploads_dir.cc: the reserve an upload must leave on the uploads'
// file system, and the mark a worker writes there.
#include "fcgi/uploads_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "schema/uploads_mark.h"
#include "tests/unit/temp_db.h"

namespace parley::fcgi {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMiB = uint64_t{1} << 20;

DiskSpace Disk(uint64_t size, uint64_t free, uint64_t inodes = 0, uint64_t free_inodes = 0) {
  return DiskSpace{size, free, inodes, free_inodes};
}

TEST(UploadsReserveTest, TenPercentOfASmallDiskAndOneGiBOfALargeOne) {
  EXPECT_EQ(ReserveBytes(Disk(64 * kMiB, 0)), 64 * kMiB / 10);
  EXPECT_EQ(ReserveBytes(Disk(500 * kGiB, 0)), kGiB);
  EXPECT_EQ(ReserveInodes(Disk(0, 0, 1000, 0)), 100u);
  EXPECT_EQ(ReserveInodes(Disk(0, 0, 50'000'000, 0)), kReserveInodesAtMost);
}

TEST(UploadsReserveTest, AnUploadIsRefusedBelowTheReserve) {
  EXPECT_TRUE(CheckRoomLeft(Disk(100 * kGiB, 2 * kGiB)).ok());
  Status st = CheckRoomLeft(Disk(100 * kGiB, kGiB - 1));
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.reason(), "storage_full");
  EXPECT_EQ(st.retry_after_s(), 10);
  EXPECT_TRUE(CheckRoomLeft(Disk(64 * kMiB, 7 * kMiB)).ok());
  EXPECT_FALSE(CheckRoomLeft(Disk(64 * kMiB, 6 * kMiB)).ok());
  // Inodes: 200 one-byte uploads took 200; a file system out of them
  // refuses the database's next file as surely as one out of blocks.
  EXPECT_TRUE(CheckRoomLeft(Disk(100 * kGiB, 50 * kGiB, 1'000'000, 100'001)).ok());
  EXPECT_FALSE(CheckRoomLeft(Disk(100 * kGiB, 50 * kGiB, 1'000'000, 99'999)).ok());
  EXPECT_TRUE(CheckRoomLeft(Disk(100 * kGiB, 50 * kGiB, 0, 0)).ok()) << "no inode count (btrfs): not checked";
}

TEST(UploadsReserveTest, ReadsTheFileSystem) {
  test::TempDir dir;
  auto d = DiskSpaceOf(dir.path());
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_GT(d->size_bytes, 0u);
  EXPECT_LE(d->free_bytes, d->size_bytes);
  EXPECT_FALSE(DiskSpaceOf(dir.path() + "/none").ok());
}

TEST(UploadsMarkTest, WrittenOnceReadBack) {
  test::TempDir dir;
  auto none = ReadUploadsMark(dir.path());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "");
  EXPECT_EQ(ReadUploadsMark(dir.path() + "/none").status().reason(), "uploads_dir_missing");
  ASSERT_TRUE(WriteUploadsMark(dir.path(), "first").ok());
  ASSERT_TRUE(WriteUploadsMark(dir.path(), "second").ok()) << "a mark there already is no error";
  auto read = ReadUploadsMark(dir.path());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "first") << "and it stays";
}

}  // namespace
}  // namespace parley::fcgi
