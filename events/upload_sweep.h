// The uploads' garbage collection, one bounded step at a time (the sweep
// runs it every upload_sweep_s, and again a second later while a step found
// a full batch). Files live in the uploads directory under the data
// directory, named by the upload's id, as parley-fcgi puts them
// (fcgi/handlers_uploads.cc); nginx spools bodies in spool/ beside it.
//
// A step:
// 1. refuses to touch anything unless the uploads directory holds this
//    deployment's mark (schema/uploads_mark.h), logged once: a daemon whose
//    --data is not the pools' (PostgreSQL on several hosts, the shared file
//    system not mounted) once took every missing file for removed and
//    dropped its trash row, so the host that had the file never removed it;
// 2. removes the files of trashed uploads (Storage::CollectUploads);
// 3. walks a bounded part of both directories for strays: a file in
//    uploads/ with no row, older than kStrayUploadAgeS (a worker died
//    between moving it in and committing its row; the commit follows the
//    body's last write, the file's mtime, by seconds), and a spool file
//    older than kStraySpoolAgeS (nginx killed while it held a body). A
//    spool file's mtime is its last write, and nginx writes a body in
//    256 KiB pieces, so a live upload's file is older than 6 hours only if
//    it took more than 6 hours for 256 KiB (12 bytes a second): removing
//    it costs that request a 503 upload_interrupted, "send it again", and
//    nginx's descriptor keeps the blocks until the request ends. Only names
//    of digits are touched (nginx's temporary files, upload ids): never the
//    mark nor anything else an operator keeps there. A pass over both
//    directories starts every kStrayPassS.
//
// Threading: single-threaded, on the loop. A step removes at most
// kUploadsPerStep trashed files and reads at most kStrayEntriesPerStep
// directory entries, so it never holds the loop for long.
#pragma once

#include <dirent.h>

#include <cstdint>
#include <memory>
#include <string>

#include "events/config.h"
#include "schema/storage.h"

namespace parley::events {

constexpr int kUploadsPerStep = 64;
constexpr int kStrayEntriesPerStep = 1024;
constexpr int64_t kStrayUploadAgeS = 3600;
constexpr int64_t kStraySpoolAgeS = 6 * 3600;
constexpr int64_t kStrayPassS = 3600;

// The uploads and spool directories under a data directory (Config::data_dir).
std::string UploadsDir(const std::string& data_dir);
std::string SpoolDir(const std::string& data_dir);

class UploadSweep {
 public:
  // One step; true when it was full, so more may be waiting.
  bool Step(Storage& store, const Config& cfg);

 private:
  // Step 1: whether the uploads directory is this deployment's; logs
  // when that changes.
  bool DirectoryIsOurs(Storage& store, const std::string& dir);
  // Step 3: at most kStrayEntriesPerStep entries of the pass under way.
  void StraysStep(Storage& store, const Config& cfg);

  struct CloseDir {
    void operator()(DIR* d) const { closedir(d); }
  };
  bool refusing_ = false;  // the last step found the directory not ours
  // The pass over the directories: which one (0 uploads, 1 spool, 2 done),
  // where in it, and when the next pass starts (wall clock, as mtimes are).
  int stray_dir_ = 2;
  std::unique_ptr<DIR, CloseDir> stray_walk_;
  int64_t next_pass_s_ = 0;
};

}  // namespace parley::events
