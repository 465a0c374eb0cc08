// fcgi/image_info.cc: types from magic bytes, sizes from each format's
// header, and damaged headers refused, never read past.
#include "fcgi/image_info.h"

#include <gtest/gtest.h>

#include <string>

namespace parley::fcgi {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

std::string Png(int w, int h) {
  return "\x89PNG\r\n\x1a\n" + Bytes({0, 0, 0, 13}) + "IHDR" +
         Bytes({(w >> 24) & 255, (w >> 16) & 255, (w >> 8) & 255, w & 255, (h >> 24) & 255, (h >> 16) & 255,
                (h >> 8) & 255, h & 255, 8, 6, 0, 0, 0});
}

// SOI, an APP0 segment of `app_len` bytes, then a baseline frame header.
std::string Jpeg(int w, int h, int app_len = 16) {
  std::string s = Bytes({0xff, 0xd8, 0xff, 0xe0, app_len >> 8, app_len & 255});
  s += std::string(static_cast<size_t>(app_len - 2), 'J');
  s += Bytes({0xff, 0xff, 0xc0, 0, 17, 8, h >> 8, h & 255, w >> 8, w & 255, 3});
  return s;
}

void ExpectImage(const FileType& t, std::string_view mime, int64_t w, int64_t h) {
  EXPECT_EQ(t.kind, FileType::Kind::kImage);
  EXPECT_EQ(t.mime, mime);
  EXPECT_EQ(t.width, w);
  EXPECT_EQ(t.height, h);
}

TEST(SniffFileTypeTest, Png) {
  ExpectImage(SniffFileType(Png(640, 480)), "image/png", 640, 480);
  EXPECT_EQ(SniffFileType(Png(0, 480)).kind, FileType::Kind::kBadImage);
  EXPECT_EQ(SniffFileType(Png(70000, 480)).kind, FileType::Kind::kBadImage);
  EXPECT_EQ(SniffFileType(Png(640, 480).substr(0, 23)).kind, FileType::Kind::kBadImage);
}

TEST(SniffFileTypeTest, Jpeg) {
  ExpectImage(SniffFileType(Jpeg(1024, 768)), "image/jpeg", 1024, 768);
  // A large EXIF-like segment before the frame is skipped by its length.
  ExpectImage(SniffFileType(Jpeg(3, 2, 60000)), "image/jpeg", 3, 2);
  // DHT (c4) shares the SOF range but is skipped, not read as a frame.
  std::string dht = Bytes({0xff, 0xd8, 0xff, 0xc4, 0, 4, 1, 2}) + Jpeg(5, 6).substr(2);
  ExpectImage(SniffFileType(dht), "image/jpeg", 5, 6);
  // Cut anywhere before the size: refused, not read past.
  std::string full = Jpeg(1024, 768);
  for (size_t n = 3; n + 2 < full.size(); ++n) {
    EXPECT_EQ(SniffFileType(full.substr(0, n)).kind, FileType::Kind::kBadImage) << n;
  }
  // Scan data before any frame, a zero length, garbage instead of a marker.
  EXPECT_EQ(SniffFileType(Bytes({0xff, 0xd8, 0xff, 0xda, 0, 8})).kind, FileType::Kind::kBadImage);
  EXPECT_EQ(SniffFileType(Bytes({0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xc0})).kind, FileType::Kind::kBadImage);
  EXPECT_EQ(SniffFileType(Bytes({0xff, 0xd8, 0xff, 0xe0, 0, 2, 0x12})).kind, FileType::Kind::kBadImage);
}

// Metadata of any size (extended XMP, ICC profiles: 64 KiB a segment) may
// put the frame header past the head the worker reads: the walk reads on in
// the file, a few bytes a segment. It was refused as a damaged image.
TEST(SniffFileTypeTest, AJpegFrameBeyondTheHeadIsFoundInTheFile) {
  std::string file = Bytes({0xff, 0xd8});
  for (int i = 0; i < 6; ++i) file += Bytes({0xff, 0xe1, 0xff, 0xff}) + std::string(65533, 'X');  // 393 KiB
  file += Bytes({0xff, 0xff, 0xff, 0xc0, 0, 17, 8, 480 >> 8, 480 & 255, 640 >> 8, 640 & 255, 3});
  ASSERT_GT(file.size(), kSniffBytes);
  const std::string_view head = std::string_view(file).substr(0, kSniffBytes);
  int reads = 0;
  const ReadAt more = [&](uint64_t at, size_t n) {
    ++reads;
    return at < file.size() ? file.substr(at, n) : std::string();
  };
  ExpectImage(SniffFileType(head, more), "image/jpeg", 640, 480);
  EXPECT_LE(reads, 4);  // a few bytes for each segment past the head, never the segments
  // Without the rest of the file it is taken as damaged, as before.
  EXPECT_EQ(SniffFileType(head).kind, FileType::Kind::kBadImage);
  // The file ends within a segment, or in fill bytes: damaged, nothing read past its end.
  const std::string cut = file.substr(0, file.size() - 14);
  const ReadAt cut_more = [&](uint64_t at, size_t n) { return at < cut.size() ? cut.substr(at, n) : std::string(); };
  EXPECT_EQ(SniffFileType(head, cut_more).kind, FileType::Kind::kBadImage);
  // Endless fill bytes or segments end the walk within its bound of steps.
  const std::string fill = Bytes({0xff, 0xd8}) + std::string(1 << 20, '\xff');
  const ReadAt fill_more = [&](uint64_t at, size_t n) { return at < fill.size() ? fill.substr(at, n) : std::string(); };
  EXPECT_EQ(SniffFileType(std::string_view(fill).substr(0, kSniffBytes), fill_more).kind,
            FileType::Kind::kBadImage);
  std::string tiny = Bytes({0xff, 0xd8});
  for (int i = 0; i < kMaxJpegSteps + 10; ++i) tiny += Bytes({0xff, 0xfe, 0, 2});  // empty comments
  tiny += Jpeg(5, 6).substr(2);
  EXPECT_EQ(SniffFileType(tiny).kind, FileType::Kind::kBadImage);
}

TEST(SniffFileTypeTest, Gif) {
  ExpectImage(SniffFileType("GIF89a" + Bytes({0x40, 1, 0xc8, 0})), "image/gif", 320, 200);
  ExpectImage(SniffFileType("GIF87a" + Bytes({1, 0, 1, 0})), "image/gif", 1, 1);
  EXPECT_EQ(SniffFileType("GIF89a" + Bytes({1, 0})).kind, FileType::Kind::kBadImage);
}

TEST(SniffFileTypeTest, Webp) {
  std::string riff = "RIFF" + Bytes({0, 0, 0, 0}) + "WEBP";
  std::string lossy = riff + "VP8 " + Bytes({0, 0, 0, 0, 0, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01});
  ExpectImage(SniffFileType(lossy), "image/webp", 640, 480);
  // VP8L: width-1 and height-1 in 14 bits each: 99 and 49.
  uint32_t bits = 99 | (49u << 14);
  std::string lossless = riff + "VP8L" + Bytes({0, 0, 0, 0, 0x2f, static_cast<int>(bits & 255),
                                                static_cast<int>((bits >> 8) & 255),
                                                static_cast<int>((bits >> 16) & 255), static_cast<int>(bits >> 24),
                                                0}) +
                               std::string(8, '\0');  // the start of the image data
  ExpectImage(SniffFileType(lossless), "image/webp", 100, 50);
  std::string extended = riff + "VP8X" + Bytes({0, 0, 0, 0, 0x10, 0, 0, 0, 0xff, 0x03, 0, 0xff, 0x01, 0});
  ExpectImage(SniffFileType(extended), "image/webp", 1024, 512);
  EXPECT_EQ(SniffFileType(riff + "VP8Z" + std::string(20, '\0')).kind, FileType::Kind::kBadImage);
  EXPECT_EQ(SniffFileType(riff + "VP8 ").kind, FileType::Kind::kBadImage);
}

TEST(SniffFileTypeTest, EverythingElseIsBytes) {
  EXPECT_EQ(SniffFileType("").kind, FileType::Kind::kOther);
  EXPECT_EQ(SniffFileType("<html>").mime, "application/octet-stream");
  EXPECT_EQ(SniffFileType("%PDF-1.4").mime, "application/pdf");
  EXPECT_EQ(SniffFileType("%PDF-1.4").kind, FileType::Kind::kOther);
  EXPECT_EQ(SniffFileType("RIFF\0\0\0\0WAVE").kind, FileType::Kind::kOther);
}

}  // namespace
}  // namespace parley::fcgi
