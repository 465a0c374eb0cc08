#include "events/upload_sweep.h"

#include <unistd.h>

#include <cerrno>

#include "schema/log.h"
#include "schema/posix.h"

namespace parley::events {

std::string UploadsDir(const std::string& data_dir) { return data_dir + "/uploads"; }

bool SweepUploads(Storage& store, const Config& cfg) {
  const std::string dir = UploadsDir(cfg.data_dir);
  auto removed = store.CollectUploads(cfg.upload_keep_ms, kUploadsPerStep, [&](int64_t id) -> Status {
    const std::string path = dir + "/" + std::to_string(id);
    // Already gone (a step that removed it and then could not record so): done.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return PosixError("remove the upload " + path, errno);
    return Status::Ok();
  });
  if (!removed.ok()) {
    // Busy database or an I/O error: what is left waits for the next step.
    LOG_WARN("uploads: collecting unused uploads in %s: %s", dir.c_str(), removed.status().message().c_str());
    return false;
  }
  if (*removed > 0) LOG_INFO("uploads: removed %lld unused upload files", static_cast<long long>(*removed));
  return *removed >= kUploadsPerStep;
}

}  // namespace parley::events
