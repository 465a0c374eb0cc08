// An LD_PRELOAD library that records, for the power-cut test
// (durable_test.cc), every change SQLite makes to a database file named
// parley.db and to its parley.db-wal, and every sync of them, in an
// append-only log beside each file (<file>.plog). Nothing is changed in
// what the process does: the real system call runs first, then its record
// is appended.
//
// The model behind it: after a power cut a file holds what had been synced
// (fdatasync/fsync, by any process: a sync flushes the whole file) and, of
// the writes since, any subset. The test replays a log up to its last sync
// record, then a random part of what follows (PowerCutImage in the test),
// and checks what SQLite recovers from that.
//
// Records, one write() each on an O_APPEND descriptor (so those of several
// processes never interleave): a byte 'W' (write), 'T' (truncate) or 'S'
// (sync), the offset (or new size) as 8 bytes, the length as 4 bytes, then
// the written bytes. Only SQLite's own calls are covered: open64, close,
// pwrite64, write, ftruncate64 and fdatasync/fsync (nm -D libsqlite3.so).
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstring>

namespace {

constexpr int kMaxFd = 65536;
std::atomic<int> g_log_fd[kMaxFd];  // the log of a tracked fd, plus one; 0: untracked

bool EndsWith(const char* s, const char* suffix) {
  size_t n = std::strlen(s), m = std::strlen(suffix);
  return n >= m && std::strcmp(s + n - m, suffix) == 0;
}

long RealOpen(const char* path, int flags, mode_t mode) { return syscall(SYS_openat, AT_FDCWD, path, flags, mode); }

void Track(int fd, const char* path) {
  if (fd < 0 || fd >= kMaxFd) return;
  g_log_fd[fd] = 0;
  if (!path || !(EndsWith(path, "/parley.db") || EndsWith(path, "/parley.db-wal"))) return;
  char log_path[4096];
  if (std::strlen(path) + 6 > sizeof log_path) return;
  std::strcpy(log_path, path);
  std::strcat(log_path, ".plog");
  long log = RealOpen(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log >= 0) g_log_fd[fd] = static_cast<int>(log) + 1;
}

bool HasMode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

void Record(int fd, char type, uint64_t off, const void* data, uint32_t len) {
  if (fd < 0 || fd >= kMaxFd) return;
  int log = g_log_fd[fd].load() - 1;
  if (log < 0) return;
  char head[13];
  head[0] = type;
  std::memcpy(head + 1, &off, 8);
  std::memcpy(head + 9, &len, 4);
  iovec iov[2] = {{head, sizeof head}, {const_cast<void*>(data), len}};
  (void)syscall(SYS_writev, log, iov, len ? 2 : 1);
}

// syscall() returns -1 and sets errno itself.
}  // namespace

extern "C" {

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  long fd = syscall(SYS_openat, AT_FDCWD, path, flags, HasMode(flags) ? va_arg(ap, int) : 0);
  va_end(ap);
  if (fd >= 0) Track(static_cast<int>(fd), path);
  return static_cast<int>(fd);
}

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int mode = HasMode(flags) ? va_arg(ap, int) : 0;
  va_end(ap);
  return open64(path, flags, mode);
}

int close(int fd) {
  if (fd >= 0 && fd < kMaxFd) {
    int log = g_log_fd[fd].exchange(0) - 1;
    if (log >= 0) syscall(SYS_close, log);
  }
  return static_cast<int>(syscall(SYS_close, fd));
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  long r = syscall(SYS_pwrite64, fd, buf, n, off);
  if (r > 0) Record(fd, 'W', static_cast<uint64_t>(off), buf, static_cast<uint32_t>(r));
  return r;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) { return pwrite64(fd, buf, n, off); }

ssize_t write(int fd, const void* buf, size_t n) {
  off_t off = (fd >= 0 && fd < kMaxFd && g_log_fd[fd].load() > 0) ? lseek(fd, 0, SEEK_CUR) : -1;
  long r = syscall(SYS_write, fd, buf, n);
  if (r > 0 && off >= 0) Record(fd, 'W', static_cast<uint64_t>(off), buf, static_cast<uint32_t>(r));
  return r;
}

int ftruncate64(int fd, off_t len) {
  long r = syscall(SYS_ftruncate, fd, len);
  if (r == 0) Record(fd, 'T', static_cast<uint64_t>(len), nullptr, 0);
  return static_cast<int>(r);
}

int ftruncate(int fd, off_t len) { return ftruncate64(fd, len); }

int fdatasync(int fd) {
  long r = syscall(SYS_fdatasync, fd);
  if (r == 0) Record(fd, 'S', 0, nullptr, 0);
  return static_cast<int>(r);
}

int fsync(int fd) {
  long r = syscall(SYS_fsync, fd);
  if (r == 0) Record(fd, 'S', 0, nullptr, 0);
  return static_cast<int>(r);
}

}  // extern "C"
