// Fuzz target: the upload type and image-size sniffer (fcgi/image_info.h)
// over arbitrary bytes, as a hostile upload's first kSniffBytes.
//
// Oracles: no read outside the input (ASan), and whatever it says is
// consistent: an image has a believable size and an image type, anything
// else has no size; a prefix of the input never yields a different size
// for the same type (the parser reads the header, not what follows).
#include <string>
#include <string_view>

#include "fcgi/image_info.h"
#include "tests/fuzz/check.h"

using namespace parley::fcgi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kSniffBytes) return 0;
  std::string_view head(reinterpret_cast<const char*>(data), size);
  FileType t = SniffFileType(head);
  switch (t.kind) {
    case FileType::Kind::kImage:
      FUZZ_CHECK(t.width >= 1 && t.width <= kMaxImageSide && t.height >= 1 && t.height <= kMaxImageSide);
      FUZZ_CHECK(t.mime == "image/png" || t.mime == "image/jpeg" || t.mime == "image/gif" ||
                 t.mime == "image/webp");
      break;
    case FileType::Kind::kBadImage:
      FUZZ_CHECK(t.mime.substr(0, 6) == "image/" && t.width == 0 && t.height == 0);
      break;
    case FileType::Kind::kOther:
      FUZZ_CHECK(t.mime == "application/octet-stream" || t.mime == "application/pdf");
      FUZZ_CHECK(t.width == 0 && t.height == 0);
      break;
  }
  // Extra bytes after the input change nothing once a size was found.
  if (t.kind == FileType::Kind::kImage) {
    std::string longer(head);
    longer.append(64, '\xff');
    FileType again = SniffFileType(longer);
    FUZZ_CHECK(again.kind == t.kind && again.mime == t.mime && again.width == t.width && again.height == t.height);
  }
  return 0;
}
