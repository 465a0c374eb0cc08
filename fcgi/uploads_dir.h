// What the pool keeps true of the uploads directory (fcgi/api.h,
// UploadDirs::files): room left on its file system, and the mark that tells
// parley-events it is this deployment's directory (schema/uploads_mark.h).
//
// The reserve. Uploads share the file system with the database (SQLite's
// file sits beside them; PostgreSQL's may not). Uploads once filled it, each
// user far below their quota, and from then on every login, registration
// and send was 503 storage_full for everybody. So an upload is refused
// (503 storage_full, nothing stored) when, with it in place, less than the
// reserve would be free:
//   bytes:  min(1 GiB, 10 % of the file system's size), by statvfs's
//           f_bavail (what an unprivileged writer may still use);
//   inodes: min(100,000, 10 % of its inodes), by f_favail; a file system
//           that counts none (f_files 0: btrfs) is not checked for them.
// A fixed rule rather than a setting: 1 GiB is room for a day of a busy
// site's messages, sessions and WAL, and the 10 % keeps small disks (and the
// tests' tmpfs) usable. It is checked after nginx spooled the file, which
// already holds its blocks on this file system: moving it into uploads/
// takes nothing more. Uploads in flight are bounded by nginx (limit_conn),
// not by this; the reserve is their headroom too.
#pragma once

#include <cstdint>
#include <string>

#include "schema/status.h"
#include "schema/storage.h"

namespace parley::fcgi {

// A file system's size and what is free on it, as statvfs(3) counts them.
struct DiskSpace {
  uint64_t size_bytes = 0;
  uint64_t free_bytes = 0;   // f_bavail * f_frsize
  uint64_t inodes = 0;       // 0: the file system does not count them
  uint64_t free_inodes = 0;  // f_favail
};

// The file system `dir` is on.
Result<DiskSpace> DiskSpaceOf(const std::string& dir);

inline constexpr uint64_t kReserveBytesAtMost = uint64_t{1} << 30;
inline constexpr uint64_t kReserveInodesAtMost = 100000;
uint64_t ReserveBytes(const DiskSpace& d);
uint64_t ReserveInodes(const DiskSpace& d);

// Ok, or 503 storage_full when `d` has less than the reserve free. Pure.
Status CheckRoomLeft(const DiskSpace& d);

// At a worker's start: the database's mark, made if there is none yet,
// written into `uploads_dir` unless it holds one. A directory that holds
// another deployment's mark is logged as the error it is; uploads are
// still taken (the pool cannot tell which of the two is wrong).
void MarkUploadsDir(Storage& store, const std::string& uploads_dir);

}  // namespace parley::fcgi
