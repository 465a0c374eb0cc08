// How much of a per-user limit a user has used, read inside the write
// transaction that checks it: the rooms one owns (store_rooms.cc, CreateRoom)
// and the bytes one has uploaded (store_uploads.cc, CreateUpload). Both read
// one integer for one user; this is that read, once.
#pragma once

#include <cstdint>

#include "schema/db.h"

namespace parley {

// The one integer `sql` answers for its one parameter, the user id; 0 when
// it returns no row.
inline Result<int64_t> UsedByUser(Db& db, const char* sql, int64_t user_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db.Prepare(sql));
  s.Bind(1, user_id);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

}  // namespace parley
