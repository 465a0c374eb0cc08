#include "schema/write_batch.h"

namespace parley {

Result<std::unique_ptr<WriteBatch>> WriteBatch::Begin(Db& db) {
  if (db.in_batch() || db.writing()) return Status::Internal("a write batch inside a write transaction");
  PARLEY_RETURN_IF_ERROR(db.LockWriterToWrite());
  std::unique_ptr<WriteBatch> batch(new WriteBatch(db));
  PARLEY_ASSIGN_OR_RETURN(Statement s, db.Prepare("BEGIN IMMEDIATE"));
  if (Status st = s.Exec(); !st.ok()) {
    batch->open_ = false;  // nothing to roll back; End() unlocks
    batch->End();
    return st;
  }
  db.in_batch_ = true;
  return batch;
}

WriteBatch::~WriteBatch() {
  if (open_ && db_.in_transaction()) {
    if (auto s = db_.Prepare("ROLLBACK"); s.ok()) (void)s->Exec();
  }
  End();
}

void WriteBatch::End() {
  if (db_.writing()) db_.UnlockWriter();
  db_.in_batch_ = false;
  open_ = false;
}

Status WriteBatch::Commit() {
  if (!open_) return Status::Internal("the write batch is closed");
  if (!db_.in_transaction()) return Status::Unavailable("the write batch was rolled back");
  PARLEY_RETURN_IF_ERROR(db_.BeforeCommit());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("COMMIT"));
  Status st = s.Exec();
  if (st.ok()) {
    ++db_.commits_;
    open_ = false;
    End();
  }
  return st;
}

}  // namespace parley
