// PgStore: the methods of Storage not yet written for PostgreSQL (issue 10).
// Each answers kInternal with its name, so a caller that reaches one on
// PostgreSQL gets a clear 500, never a wrong answer. This file shrinks as
// they are written and goes away with the last.
#include "schema/pg/store.h"

namespace parley::pg {

namespace {

Status NotYet(const char* method) {
  return Status::Internal(std::string("PgStore::") + method + " is not on PostgreSQL yet");
}

}  // namespace

// pgm: login throttling (store_login.cc).
Status PgStore::BeginLogin(const std::string&, const std::string&) { return NotYet("BeginLogin"); }
Status PgStore::LoginSucceeded(const std::string&, const std::string&) { return NotYet("LoginSucceeded"); }

// pgm: moderation, blocks, admins and accounts (store_moderation.cc).
Result<Member> PgStore::UpdateMember(const User&, int64_t, const std::string&, const MemberUpdate&) {
  return NotYet("UpdateMember");
}
Status PgStore::Kick(const User&, int64_t, const std::string&) { return NotYet("Kick"); }
Status PgStore::BanUser(const User&, int64_t, const std::string&, const std::string&) { return NotYet("BanUser"); }
Status PgStore::Unban(const User&, int64_t, const std::string&) { return NotYet("Unban"); }
Result<std::vector<Ban>> PgStore::Bans(const User&, int64_t) { return NotYet("Bans"); }
Status PgStore::Block(const User&, const std::string&) { return NotYet("Block"); }
Status PgStore::Unblock(const User&, const std::string&) { return NotYet("Unblock"); }
Result<std::vector<User>> PgStore::Blocks(const User&) { return NotYet("Blocks"); }
Result<bool> PgStore::IsAdmin(int64_t) { return NotYet("IsAdmin"); }
Result<std::vector<AccountInfo>> PgStore::AdminListUsers(const std::string&, int) { return NotYet("AdminListUsers"); }
Status PgStore::SetDeactivated(const User&, const std::string&, bool) { return NotYet("SetDeactivated"); }
Status PgStore::SetAdmin(const std::string&, bool) { return NotYet("SetAdmin"); }
Status PgStore::SetPassword(int64_t, const std::string&, const std::string&) { return NotYet("SetPassword"); }

// pgm: uploads (store_uploads.cc).
Result<Upload> PgStore::CreateUpload(const User&, Upload, const std::function<Status(int64_t)>&) {
  return NotYet("CreateUpload");
}
Result<Upload> PgStore::ReadableUpload(const User&, int64_t) { return NotYet("ReadableUpload"); }
Result<int64_t> PgStore::CollectUploads(int64_t, int, const std::function<Status(int64_t)>&) {
  return NotYet("CollectUploads");
}

}  // namespace parley::pg
