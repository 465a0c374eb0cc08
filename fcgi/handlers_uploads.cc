// Uploads: POST /api/uploads and GET /api/uploads/{id} (DESIGN 3.2).
//
// Design note. The body of an upload never passes through a worker: nginx
// spools it to a file (client_body_in_file_only) in the spool directory,
// passes the file's path as PARLEY_UPLOAD_FILE and no body at all. The worker
// reads only the first kSniffBytes to decide the type and the image size,
// then rename(2)s the file into the uploads directory (same file system) in
// the transaction that records it, so a 25 MiB upload costs a worker a
// 256 KiB buffer. nginx deletes the spooled file after the request, which
// after a successful rename is a no-op. The route runs on the request
// thread, outside the writer's batch (RunsOn::kOwnTransaction): opening,
// reading and sniffing the file happen before any transaction, so the write
// transaction holds the lock only to check the quota, insert the row and
// rename the file. Before that transaction, the file system must keep its
// reserve with the file in place (fcgi/uploads_dir.h), else 503
// storage_full.
//
// A crash. A worker that dies after the rename and before the commit leaves
// a file in uploads/ with no row; parley-events removes such strays once
// they are an hour old (events/upload_sweep.h). nginx then retries the POST
// on another worker (fastcgi_next_upstream), which finds the spooled file
// gone: 503 upload_interrupted, "send it again", not a 500.
//
// A download is an access check that
// answers X-Accel-Redirect: nginx then sends the file from an internal
// location, with the type and disposition decided here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "fcgi/api.h"
#include "fcgi/image_info.h"
#include "fcgi/input.h"
#include "fcgi/response.h"
#include "fcgi/uploads_dir.h"
#include "fcgi/validate.h"
#include "schema/log.h"
#include "schema/percent_encode.h"
#include "schema/posix.h"

namespace parley::fcgi {
namespace {

// Where nginx serves the uploads directory from (nginx/parley.conf, internal).
constexpr const char* kInternalPrefix = "/_parley_uploads/";

// The first bytes of the file; a short read at end of file is fine.
// Up to n bytes of the file at offset `at`.
Result<std::string> ReadBytes(int fd, uint64_t at, size_t n) {
  std::string head(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, head.data() + got, n - got, static_cast<off_t>(at + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return PosixError("read the spooled upload", errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  head.resize(got);
  return head;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Content-Disposition with an ASCII fallback name and the exact one in
// RFC 5987 form: browsers use filename*, old ones the fallback.
std::string Disposition(const Upload& u) {
  bool inline_image = StartsWith(u.mime, "image/");
  constexpr std::string_view kPlain = ".-_";
  std::string ascii;
  for (unsigned char c : u.name) ascii += PercentPlain(c, kPlain) || c == ' ' ? static_cast<char>(c) : '_';
  const std::string encoded = PercentEncode(u.name, kPlain);
  return std::string(inline_image ? "inline" : "attachment") + "; filename=\"" + ascii +
         "\"; filename*=UTF-8''" + encoded;
}

}  // namespace

Result<Response> Api::PostUpload(Call& c) {
  std::string name = QueryParam(c.req.query, "name").value_or("file");
  PARLEY_RETURN_IF_ERROR(ValidateFileName(name));
  // Without a body nginx spools nothing; a path outside the spool directory
  // would be a configuration error, and the worker moves no other file.
  if (c.req.upload_file.empty()) {
    return Status::Invalid("empty_upload", "send the file as the request body");
  }
  if (uploads_.spool.empty() || !StartsWith(c.req.upload_file, uploads_.spool + "/") ||
      c.req.upload_file.find("/..") != std::string::npos) {
    return Status::Internal("PARLEY_UPLOAD_FILE is not in the spool directory: " + c.req.upload_file);
  }
  Fd fd(open(c.req.upload_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid() && errno == ENOENT) {
    // Moved away by a worker that died before its commit (the design note),
    // or removed by parley-events as an abandoned spool file.
    return Status(Code::kUnavailable, "upload_interrupted", "the file was lost on the way in; send it again");
  }
  if (!fd.valid()) return PosixError("open the spooled upload " + c.req.upload_file, errno);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return PosixError("stat the spooled upload", errno);
  if (!S_ISREG(st.st_mode)) return Status::Internal("the spooled upload is not a file");
  if (st.st_size == 0) return Status::Invalid("empty_upload", "the file is empty");
  const Limits& limits = store_.limits();
  if (st.st_size > limits.upload_max_bytes) {
    return Status(Code::kTooLarge, "upload_too_large",
                  "a file may be at most " + std::to_string(limits.upload_max_bytes >> 20) + " MiB");
  }
  PARLEY_ASSIGN_OR_RETURN(std::string head, ReadBytes(fd.get(), 0, kSniffBytes));
  // A JPEG whose metadata runs past the head is walked on in the file (an
  // error reads as its end: the image is then taken as damaged).
  FileType type = SniffFileType(head, [&](uint64_t at, size_t n) {
    Result<std::string> more = ReadBytes(fd.get(), at, n);
    return more.ok() ? std::move(more).value() : std::string();
  });
  if (type.kind == FileType::Kind::kBadImage) {
    return Status(Code::kUnsupported, "invalid_image",
                  "the file starts like " + std::string(type.mime) + " but its header is damaged");
  }
  // A file sent as an image must be one we can show: otherwise a browser
  // told "image/..." by the sender would learn the truth only on display.
  if (type.kind == FileType::Kind::kOther && StartsWith(c.req.content_type, "image/")) {
    return Status(Code::kUnsupported, "unsupported_image",
                  "images must be PNG, JPEG, GIF or WebP; this file is none of them");
  }
  PARLEY_ASSIGN_OR_RETURN(DiskSpace space, DiskSpaceOf(uploads_.files));
  if (Status room = CheckRoomLeft(space); !room.ok()) {
    LOG_WARN("uploads: refused %lld bytes of user %lld: %llu bytes and %llu inodes free, below the reserve",
             static_cast<long long>(st.st_size), static_cast<long long>(c.user.id),
             static_cast<unsigned long long>(space.free_bytes), static_cast<unsigned long long>(space.free_inodes));
    return room;
  }
  parley::Upload u;
  u.name = name;
  u.mime = std::string(type.mime);
  u.size = st.st_size;
  if (type.kind == FileType::Kind::kImage) {
    u.width = type.width;
    u.height = type.height;
  }
  std::string placed;
  auto place = [&](int64_t id) -> Status {
    std::string dest = uploads_.files + "/" + std::to_string(id);
    if (rename(c.req.upload_file.c_str(), dest.c_str()) != 0) return PosixError("move the upload to " + dest, errno);
    placed = dest;
    return Status::Ok();
  };
  auto created = store_.CreateUpload(c.user, std::move(u), place);
  if (!created.ok()) {
    if (!placed.empty()) unlink(placed.c_str());  // the row was rolled back
    return created.status();
  }
  return JsonResponse(201, Wrap("upload", created.value()));
}

Result<Response> Api::GetUpload(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(parley::Upload u, store_.ReadableUpload(c.user, c.route.num));
  Response r;
  r.status = 200;
  r.headers.emplace_back("X-Accel-Redirect", kInternalPrefix + std::to_string(u.id));
  r.headers.emplace_back("Content-Type", u.mime);
  r.headers.emplace_back("Content-Disposition", Disposition(u));
  // The browser keeps the file (an upload's bytes never change) but asks
  // again before each use: nginx answers 304 to its ETag without the bytes,
  // after this access check, so a file a deleted message took with it, or
  // one of a room left, is refused at once all the same. It used to be
  // no-store, and a history page's images came whole each time it was shown.
  r.headers.emplace_back("Cache-Control", "private, no-cache");
  return r;
}

}  // namespace parley::fcgi
