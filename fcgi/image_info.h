// What an uploaded file is, decided from its first bytes, never from the
// Content-Type the client declared: PNG, JPEG, GIF and WebP by their magic
// numbers, with the pixel size read from their headers; PDF by its magic;
// anything else is application/octet-stream.
//
// Pure and bounded: it reads only the bytes it is given (the worker passes
// at most kSniffBytes of the file's start), never allocates, and walks JPEG
// segments by their lengths with every offset checked against the buffer,
// so hostile input can neither read out of bounds nor loop (each step moves
// forward). Fuzzed by tests/fuzz/image_info_fuzz.cc.
#pragma once

#include <cstddef>
#include <cstdint>
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

FileType SniffFileType(std::string_view head);

}  // namespace parley::fcgi
