#include "schema/uploads_mark.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "schema/posix.h"

namespace parley {

std::string UploadsMarkPath(const std::string& uploads_dir) { return uploads_dir + "/.parley-uploads"; }

Result<std::string> ReadUploadsMark(const std::string& uploads_dir) {
  Fd fd(open(UploadsMarkPath(uploads_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    const int err = errno;
    struct stat st {};
    if (err == ENOENT && stat(uploads_dir.c_str(), &st) != 0) {
      return Status::NotFound("uploads_dir_missing", "no uploads directory at " + uploads_dir);
    }
    if (err == ENOENT) return std::string();
    return PosixError("open " + UploadsMarkPath(uploads_dir), err);
  }
  char buf[128];
  ssize_t n;
  do {
    n = read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return PosixError("read " + UploadsMarkPath(uploads_dir), errno);
  std::string mark(buf, static_cast<size_t>(n));
  while (!mark.empty() && (mark.back() == '\n' || mark.back() == ' ')) mark.pop_back();
  return mark;
}

Status WriteUploadsMark(const std::string& uploads_dir, const std::string& mark) {
  const std::string path = UploadsMarkPath(uploads_dir);
  const std::string temp = path + "." + std::to_string(getpid());
  {
    Fd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!fd.valid()) return PosixError("create " + temp, errno);
    const std::string line = mark + "\n";
    if (write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) || fsync(fd.get()) != 0) {
      const int err = errno;
      unlink(temp.c_str());
      return PosixError("write " + temp, err);
    }
  }
  // link(2) fails with EEXIST rather than replace: the first mark stays.
  const int linked = link(temp.c_str(), path.c_str());
  const int err = errno;
  unlink(temp.c_str());
  if (linked != 0 && err != EEXIST) return PosixError("link " + path, err);
  return Status::Ok();
}

}  // namespace parley
