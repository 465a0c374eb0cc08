#include "fcgi/image_info.h"

namespace parley::fcgi {
namespace {

uint32_t Be16(std::string_view b, size_t at) {
  return (uint32_t{static_cast<unsigned char>(b[at])} << 8) | static_cast<unsigned char>(b[at + 1]);
}
uint32_t Be32(std::string_view b, size_t at) { return (Be16(b, at) << 16) | Be16(b, at + 2); }
uint32_t Le16(std::string_view b, size_t at) {
  return static_cast<unsigned char>(b[at]) | (uint32_t{static_cast<unsigned char>(b[at + 1])} << 8);
}
uint32_t Le24(std::string_view b, size_t at) {
  return Le16(b, at) | (uint32_t{static_cast<unsigned char>(b[at + 2])} << 16);
}
uint32_t Le32(std::string_view b, size_t at) { return Le16(b, at) | (Le16(b, at + 2) << 16); }

FileType Image(std::string_view mime, int64_t w, int64_t h) {
  FileType t;
  t.mime = mime;
  if (w < 1 || h < 1 || w > kMaxImageSide || h > kMaxImageSide) {
    t.kind = FileType::Kind::kBadImage;
    return t;
  }
  t.kind = FileType::Kind::kImage;
  t.width = w;
  t.height = h;
  return t;
}

FileType Unsized(std::string_view mime) { return Image(mime, 0, 0); }

FileType Png(std::string_view b) {
  // Signature, then the IHDR chunk must come first: length 13, "IHDR", width, height.
  if (b.size() < 24 || Be32(b, 8) != 13 || b.substr(12, 4) != "IHDR") return Unsized("image/png");
  return Image("image/png", Be32(b, 16), Be32(b, 20));
}

FileType Gif(std::string_view b) {
  if (b.size() < 10) return Unsized("image/gif");
  return Image("image/gif", Le16(b, 6), Le16(b, 8));
}

FileType Webp(std::string_view b) {
  constexpr std::string_view kMime = "image/webp";
  if (b.size() < 30) return Unsized(kMime);
  std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    // Lossy: a 3-byte frame tag, the start code 9d 01 2a, then 14-bit sizes.
    if (b.substr(23, 3) != "\x9d\x01\x2a") return Unsized(kMime);
    return Image(kMime, Le16(b, 26) & 0x3fff, Le16(b, 28) & 0x3fff);
  }
  if (chunk == "VP8L") {
    // Lossless: signature 0x2f, then width-1 and height-1 in 14 bits each.
    if (static_cast<unsigned char>(b[20]) != 0x2f) return Unsized(kMime);
    uint32_t bits = Le32(b, 21);
    return Image(kMime, (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
  }
  if (chunk == "VP8X") {
    // Extended: flags and 3 reserved bytes, then canvas width-1 and height-1 in 24 bits.
    return Image(kMime, int64_t{Le24(b, 24)} + 1, int64_t{Le24(b, 27)} + 1);
  }
  return Unsized(kMime);
}

// Start-of-frame markers carry the size; C4 (DHT), C8 (reserved) and CC
// (DAC) share the range but are not frames.
bool IsStartOfFrame(unsigned char m) { return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc; }

// The bytes of a JPEG at an offset: from the head read already, or past
// it through `more` (a few bytes for each segment walked over).
class JpegBytes {
 public:
  JpegBytes(std::string_view head, const ReadAt& more) : head_(head), more_(more) {}
  // Up to n bytes at `at`; fewer at the end of what there is.
  std::string_view Get(uint64_t at, size_t n) {
    if (at + n <= head_.size() || !more_) return at < head_.size() ? head_.substr(at, n) : std::string_view();
    read_ = more_(at, n);
    return read_;
  }

 private:
  std::string_view head_;
  const ReadAt& more_;
  std::string read_;
};

FileType Jpeg(std::string_view head, const ReadAt& more) {
  constexpr std::string_view kMime = "image/jpeg";
  JpegBytes bytes(head, more);
  uint64_t at = 2;  // after SOI (ff d8)
  for (int step = 0; step < kMaxJpegSteps; ++step) {
    // A marker: one or more ff fill bytes, then its code, then (for most)
    // a length and, for a frame, its precision, height and width.
    const std::string_view w = bytes.Get(at, 16);
    if (w.empty() || static_cast<unsigned char>(w[0]) != 0xff) return Unsized(kMime);
    size_t i = 1;
    while (i < w.size() && static_cast<unsigned char>(w[i]) == 0xff) ++i;
    if (i == w.size() && w.size() < 16) return Unsized(kMime);  // the file ends in fill bytes
    if (i > 1) {
      at += i - 1;  // read again from the last fill byte: the marker's whole header in one window
      continue;
    }
    unsigned char m = static_cast<unsigned char>(w[1]);
    if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {  // no length follows
      at += 2;
      continue;
    }
    if (m == 0xd8 || m == 0xd9 || m == 0xda) return Unsized(kMime);  // SOI again, EOI or scan data before a frame
    if (w.size() < 4) return Unsized(kMime);
    uint32_t len = Be16(w, 2);  // counts itself
    if (len < 2) return Unsized(kMime);
    if (IsStartOfFrame(m)) {
      // length, precision, height, width
      if (len < 7 || w.size() < 9) return Unsized(kMime);
      return Image(kMime, Be16(w, 7), Be16(w, 5));
    }
    at += 2 + len;
  }
  return Unsized(kMime);
}

}  // namespace

FileType SniffFileType(std::string_view head, const ReadAt& more) {
  if (head.substr(0, 8) == "\x89PNG\r\n\x1a\n") return Png(head);
  if (head.substr(0, 3) == "\xff\xd8\xff") return Jpeg(head, more);
  if (head.substr(0, 6) == "GIF87a" || head.substr(0, 6) == "GIF89a") return Gif(head);
  if (head.size() >= 12 && head.substr(0, 4) == "RIFF" && head.substr(8, 4) == "WEBP") return Webp(head);
  FileType t;
  if (head.substr(0, 5) == "%PDF-") t.mime = "application/pdf";
  return t;
}

}  // namespace parley::fcgi
