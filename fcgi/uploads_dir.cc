#include "fcgi/uploads_dir.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "schema/log.h"
#include "schema/posix.h"
#include "schema/uploads_mark.h"

namespace parley::fcgi {

Result<DiskSpace> DiskSpaceOf(const std::string& dir) {
  struct statvfs v {};
  if (statvfs(dir.c_str(), &v) != 0) return PosixError("statvfs " + dir, errno);
  DiskSpace d;
  d.size_bytes = static_cast<uint64_t>(v.f_blocks) * v.f_frsize;
  d.free_bytes = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  d.inodes = v.f_files;
  d.free_inodes = v.f_favail;
  return d;
}

uint64_t ReserveBytes(const DiskSpace& d) { return std::min(kReserveBytesAtMost, d.size_bytes / 10); }
uint64_t ReserveInodes(const DiskSpace& d) { return std::min(kReserveInodesAtMost, d.inodes / 10); }

Status CheckRoomLeft(const DiskSpace& d) {
  if (d.free_bytes < ReserveBytes(d) || (d.inodes > 0 && d.free_inodes < ReserveInodes(d))) {
    return Status::StorageFull();
  }
  return Status::Ok();
}

void MarkUploadsDir(Storage& store, const std::string& uploads_dir) {
  Result<std::string> mark = store.UploadsMark(/*create=*/true);
  if (!mark.ok()) {
    LOG_WARN("uploads: cannot read the uploads mark: %s", mark.status().message().c_str());
    return;
  }
  Result<std::string> found = ReadUploadsMark(uploads_dir);
  if (found.ok() && found->empty()) {
    if (Status st = WriteUploadsMark(uploads_dir, *mark); !st.ok()) {
      LOG_WARN("uploads: cannot mark %s: %s", uploads_dir.c_str(), st.message().c_str());
    }
    found = ReadUploadsMark(uploads_dir);  // another worker's, if it was first: the same mark
  }
  if (!found.ok()) {
    LOG_WARN("uploads: cannot read the mark of %s: %s", uploads_dir.c_str(), found.status().message().c_str());
  } else if (*found != *mark) {
    LOG_ERROR("uploads: %s holds another deployment's mark (%s, not this database's %s): every pool, "
              "parley-events and nginx must share one uploads directory; parley-events removes no file until "
              "they agree",
              uploads_dir.c_str(), found->c_str(), mark->c_str());
  }
}

}  // namespace parley::fcgi
