// The uploads' garbage collection, one bounded step at a time (the sweep
// runs it every upload_sweep_s, and again a second later while a step found
// a full batch): the database side is Store::CollectUploads; this removes
// the files, which live in the uploads directory under the data directory, named
// by the upload's id, as parley-fcgi puts them (fcgi/worker.cc).
//
// Threading: single-threaded, on the loop. A step removes at most
// kUploadsPerStep files, so it never holds the loop for long.
#pragma once

#include <string>

#include "events/config.h"
#include "schema/storage.h"

namespace parley::events {

constexpr int kUploadsPerStep = 64;

// The uploads directory under a data directory (Config::data_dir).
std::string UploadsDir(const std::string& data_dir);

// One step; true when it was full, so more may be waiting.
bool SweepUploads(Storage& store, const Config& cfg);

}  // namespace parley::events
