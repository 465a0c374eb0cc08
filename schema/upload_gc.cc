#include "schema/upload_gc.h"

namespace parley {

FileRemoval RemoveFiles(const std::vector<int64_t>& ids, const std::function<Status(int64_t id)>& remove) {
  FileRemoval out{{}, Status::Ok()};
  for (int64_t id : ids) {
    Status st = remove(id);
    if (st.ok()) {
      out.removed.push_back(id);
    } else if (out.failed.ok()) {
      out.failed = st;
    }
  }
  return out;
}

}  // namespace parley
