#include "events/upload_sweep.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <vector>

#include "schema/log.h"
#include "schema/posix.h"
#include "schema/uploads_mark.h"

namespace parley::events {
namespace {

// A name of 1 to 18 digits (an upload id below 2^53, or nginx's ten-digit
// temporary file), as a number; -1 otherwise.
int64_t NumericName(const char* name) {
  int64_t n = 0;
  int digits = 0;
  for (const char* p = name; *p; ++p, ++digits) {
    if (*p < '0' || *p > '9' || digits == 18) return -1;
    n = n * 10 + (*p - '0');
  }
  return digits == 0 ? -1 : n;
}

}  // namespace

std::string UploadsDir(const std::string& data_dir) { return data_dir + "/uploads"; }
std::string SpoolDir(const std::string& data_dir) { return data_dir + "/spool"; }

bool UploadSweep::DirectoryIsOurs(Storage& store, const std::string& dir) {
  std::string why;
  Result<std::string> mark = store.UploadsMark(/*create=*/false);
  Result<std::string> found = ReadUploadsMark(dir);
  if (!mark.ok()) {
    why = "cannot read the database's uploads mark: " + mark.status().message();
  } else if (!found.ok()) {
    why = found.status().message();
  } else if (mark->empty()) {
    why = "the database has no uploads mark yet (no parley-fcgi of this version has started)";
  } else if (*found != *mark) {
    why = found->empty() ? "it holds no uploads mark (" + UploadsMarkPath(dir) + "), which every parley-fcgi writes"
                         : "its uploads mark is another deployment's";
  }
  if (!why.empty() && !refusing_) {
    LOG_ERROR("uploads: not removing any file from %s, the trash waits: %s; every pool, parley-events and nginx "
              "must share one uploads directory (--data)",
              dir.c_str(), why.c_str());
  } else if (why.empty() && refusing_) {
    LOG_INFO("uploads: %s holds this deployment's mark: removing files again", dir.c_str());
  }
  refusing_ = !why.empty();
  return !refusing_;
}

bool UploadSweep::Step(Storage& store, const Config& cfg) {
  const std::string dir = UploadsDir(cfg.data_dir);
  if (!DirectoryIsOurs(store, dir)) return false;
  auto removed = store.CollectUploads(cfg.upload_keep_ms, kUploadsPerStep, [&](int64_t id) -> Status {
    const std::string path = dir + "/" + std::to_string(id);
    // Already gone (a step that removed it and then could not record so):
    // done. The mark says this is where the file would be.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return PosixError("remove the upload " + path, errno);
    return Status::Ok();
  });
  StraysStep(store, cfg);
  if (!removed.ok()) {
    // Busy database or an I/O error: what is left waits for the next step.
    LOG_WARN("uploads: collecting unused uploads in %s: %s", dir.c_str(), removed.status().message().c_str());
    return false;
  }
  if (*removed > 0) LOG_INFO("uploads: removed %lld unused upload files", static_cast<long long>(*removed));
  return *removed >= kUploadsPerStep;
}

void UploadSweep::StraysStep(Storage& store, const Config& cfg) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (stray_dir_ == 2) {
    if (now < next_pass_s_) return;
    stray_dir_ = 0;
  }
  std::vector<int64_t> uploads;  // old enough, in uploads/: removed if they have no row
  int budget = kStrayEntriesPerStep;
  while (budget > 0 && stray_dir_ < 2) {
    const std::string dir = stray_dir_ == 0 ? UploadsDir(cfg.data_dir) : SpoolDir(cfg.data_dir);
    if (!stray_walk_) stray_walk_.reset(opendir(dir.c_str()));
    dirent* e = stray_walk_ ? readdir(stray_walk_.get()) : nullptr;
    if (!e) {  // the end of this directory (or none)
      stray_walk_.reset();
      if (++stray_dir_ == 2) next_pass_s_ = now + kStrayPassS;
      continue;
    }
    --budget;
    const int64_t n = NumericName(e->d_name);
    struct stat st {};
    if (n < 0 || fstatat(dirfd(stray_walk_.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      continue;
    }
    const int64_t age = now - static_cast<int64_t>(st.st_mtime);
    if (stray_dir_ == 0 && age > kStrayUploadAgeS) {
      uploads.push_back(n);
    } else if (stray_dir_ == 1 && age > kStraySpoolAgeS) {
      const std::string path = dir + "/" + e->d_name;
      if (unlink(path.c_str()) == 0) {
        LOG_WARN("uploads: removed %s, a spooled body %lld s old that nginx left", path.c_str(),
                 static_cast<long long>(age));
      }
    }
  }
  if (uploads.empty()) return;
  Result<std::vector<int64_t>> strays = store.UploadsWithoutRows(uploads);
  if (!strays.ok()) {
    LOG_WARN("uploads: looking for strays: %s", strays.status().message().c_str());
    return;  // found again at the next pass
  }
  for (int64_t id : *strays) {
    const std::string path = UploadsDir(cfg.data_dir) + "/" + std::to_string(id);
    if (unlink(path.c_str()) == 0) LOG_WARN("uploads: removed %s, a file with no upload row", path.c_str());
  }
}

}  // namespace parley::events
