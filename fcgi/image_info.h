// What an uploaded file is, decided from its first bytes, never from the
// Content-Type the client declared: PNG, JPEG, GIF and WebP by their magic
// numbers, with the pixel size read from their headers; PDF by its magic;
// anything else is application/octet-stream.
//
// Bounded: it reads the bytes it is given (the worker passes at most
// kSniffBytes of the file's start) and walks JPEG segments by their lengths
// with every offset checked, so hostile input can neither read out of
// bounds nor loop (each step moves forward, at most kMaxJpegSteps). A
// JPEG's metadata (EXIF, ICC profiles, extended XMP: 64 KiB a segment, any
// number of them) may put its frame header past those bytes: the walk then
// reads on through `more`, a few bytes a segment, where one is given.
// Fuzzed by tests/fuzz/image_info_fuzz.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace parley::fcgi {

// JPEG puts EXIF, ICC profiles and thumbnails (64 KiB segments each) before
// the frame header that holds the size; 256 KiB covers what cameras and
// phones write.
constexpr size_t kSniffBytes = 256 * 1024;
// Larger than any real image (WebP's own limit is 16383); a header that
// claims more is not believed.
constexpr int64_t kMaxImageSide = 65535;

struct FileType {
  enum class Kind {
    kImage,     // png/jpeg/gif/webp with a believable size
    kBadImage,  // an image's magic number, but no readable size
    kOther,     // not an image we show inline
  };
  Kind kind = Kind::kOther;
  std::string_view mime = "application/octet-stream";  // static storage
  int64_t width = 0;   // kImage only
  int64_t height = 0;  // kImage only
};

// Up to n bytes of the file at offset `at` (fewer at its end, none on an
// error).
using ReadAt = std::function<std::string(uint64_t at, size_t n)>;
// The segments a JPEG walk takes before it gives up on a frame header:
// real files have a few dozen; 4,096 of 64 KiB pass any upload's size.
constexpr int kMaxJpegSteps = 4096;

// head: the file's first bytes; more: the rest of it, for a JPEG whose
// frame header lies beyond head (none: head is all there is).
FileType SniffFileType(std::string_view head, const ReadAt& more = {});

}  // namespace parley::fcgi
