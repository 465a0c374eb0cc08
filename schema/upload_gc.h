// What the two Storage backends' CollectUploads (schema/store_uploads.cc,
// schema/pg/store_uploads.cc) share: the files of trashed uploads removed
// one by one outside any transaction, a failure leaving its id queued.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "schema/status.h"

namespace parley {

struct FileRemoval {
  std::vector<int64_t> removed;  // ids whose file is gone: their trash rows may go
  Status failed;                 // the first failure (an I/O error), or Ok
};

// Calls remove(id) for every id: those that succeed are done, the others
// stay queued for the next step.
FileRemoval RemoveFiles(const std::vector<int64_t>& ids, const std::function<Status(int64_t id)>& remove);

}  // namespace parley
