// Which uploads directory is this deployment's: a file, `.parley-uploads`,
// in the uploads directory, holding the mark the database keeps
// (Storage::UploadsMark). parley-fcgi writes it at a worker's start in the
// directory it moves uploads into (fcgi/uploads_dir.h); parley-events
// removes no file from a directory whose mark is missing or another
// (events/upload_sweep.h). Without it, a daemon whose --data did not hold
// the files (PostgreSQL on several hosts, the shared file system not
// mounted there) took every "No such file" for a file removed and dropped
// its trash row, while the host that had the file never removed it.
//
// What it cannot tell: a host whose pool and daemon both use a directory of
// their own, not the shared one. The pool marks what it is given, so
// README asks for one shared file system for every pool, daemon and nginx.
#pragma once

#include <string>

#include "schema/status.h"

namespace parley {

// The mark's file in an uploads directory.
std::string UploadsMarkPath(const std::string& uploads_dir);

// The mark written in `uploads_dir`; "" when the directory has none;
// kNotFound uploads_dir_missing when the directory itself is not there.
Result<std::string> ReadUploadsMark(const std::string& uploads_dir);

// Writes `mark` unless the directory has a mark already: made whole under a
// temporary name, then linked in, so a reader never sees half of one and
// two workers starting at once never overwrite each other.
Status WriteUploadsMark(const std::string& uploads_dir, const std::string& mark);

}  // namespace parley
