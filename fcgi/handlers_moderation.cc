// Running a community (DESIGN section 3.1): member changes by the owner and
// moderators, kicks, bans, blocks, passwords and site admins. The rules
// live in the store (schema/store_moderation.cc), inside each action's
// transaction; here only input is read and answers are shaped.
#include "fcgi/api.h"
#include "fcgi/input.h"
#include "fcgi/response.h"
#include "fcgi/validate.h"
#include "schema/crypto.h"
#include "schema/login_rules.h"

namespace parley::fcgi {
namespace {

constexpr int64_t kMaxTs = int64_t{1} << 53;  // ms; JSON numbers are exact up to here
constexpr size_t kMaxReason = 500;             // code points

void WriteAccount(JsonWriter& w, const AccountInfo& a) {
  w.BeginObject().Key("id").Int(a.user.id).Key("username").String(a.user.username);
  w.Key("admin").Bool(a.admin).Key("deactivated").Bool(a.deactivated).EndObject();
}

Result<std::optional<bool>> OptionalBool(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) return std::optional<bool>();
  if (!cJSON_IsBool(v)) return Status::Invalid("invalid_field", std::string(key) + " must be true or false");
  return std::optional<bool>(cJSON_IsTrue(v));
}

}  // namespace

Result<Response> Api::UpdateMember(Call& c) {
  MemberUpdate u;
  PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> role_name, OptionalString(c.body, "role"));
  if (role_name) {
    u.role = ParseRole(*role_name);
    if (!u.role) return Status::Invalid("invalid_field", "role must be member, student or professor");
  }
  PARLEY_ASSIGN_OR_RETURN(u.moderator, OptionalBool(c.body, "moderator"));
  if (cJSON_HasObjectItem(c.body, "muted_until")) {
    // null lifts the mute; a number is the end of it, in ms since the epoch.
    PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> until, OptionalInt(c.body, "muted_until", 0, kMaxTs));
    u.mute = until;
  }
  if (!u.role && !u.moderator && !u.mute) {
    return Status::Invalid("missing_field", "give role, moderator or muted_until");
  }
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_ASSIGN_OR_RETURN(MemberUpdated m, store_.UpdateMember(c.user, c.route.num, c.route.name, u));
  if (m.member) return JsonResponse(200, Wrap("member", *m.member));
  // Someone out of the room whose kept mute was changed or lifted: 200, as
  // for a member, so a client handles one success; "member": null says the
  // user is not in the room (nothing to list), and "muted_until" the mute
  // they will come back with, as stored (a past time lifts it: null), which
  // an empty 204 would leave the client to guess.
  JsonWriter w;
  w.BeginObject().Key("member").Null().Key("muted_until");
  if (m.kept_muted_until) {
    w.Int(*m.kept_muted_until);
  } else {
    w.Null();
  }
  w.EndObject();
  return JsonResponse(200, w.Take());
}

Result<Response> Api::Kick(Call& c) {
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_RETURN_IF_ERROR(store_.Kick(c.user, c.route.num, c.route.name));
  return NoContent();
}

Result<Response> Api::Bans(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(UserPageQuery q, QueryUserPage(c.req.query));
  PARLEY_ASSIGN_OR_RETURN(BanPage page, store_.Bans(c.user, c.route.num, q));
  return JsonResponse(200, WrapUserPage("bans", page.bans, page.next));
}

Result<Response> Api::Ban(Call& c) {
  // The body is optional (`{"reason"}`), so it is parsed here and not by
  // Handle, which would refuse an empty one.
  std::string reason;
  if (!c.req.body.empty()) {
    PARLEY_ASSIGN_OR_RETURN(JsonPtr body, ParseJsonObject(c.req.content_type, c.req.body));
    PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> r, OptionalString(body.get(), "reason"));
    if (r && !r->empty()) {
      PARLEY_RETURN_IF_ERROR(ValidateText(&*r));  // shown to moderators as text
      if (CodePoints(*r) > kMaxReason) return Status::Invalid("invalid_field", "reason may be at most 500 characters");
      reason = std::move(*r);
    }
  }
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_RETURN_IF_ERROR(store_.BanUser(c.user, c.route.num, c.route.name, reason));
  return NoContent();
}

Result<Response> Api::Unban(Call& c) {
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_RETURN_IF_ERROR(store_.Unban(c.user, c.route.num, c.route.name));
  return NoContent();
}

Result<Response> Api::Password(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string old_password, RequireString(c.body, "old_password"));
  PARLEY_ASSIGN_OR_RETURN(std::string new_password, RequireString(c.body, "new_password"));
  PARLEY_RETURN_IF_ERROR(ValidatePassword(new_password));
  // Guessing the old password through a stolen session is throttled as
  // logins are (store_login.cc), counted before the check.
  const std::string address = LoginAddressKey(c.req.remote_addr);
  PARLEY_RETURN_IF_ERROR(store_.BeginLogin(c.user.username, address));
  PARLEY_ASSIGN_OR_RETURN(std::optional<UserCredentials> cred, store_.FindCredentials(c.user.username));
  if (!cred || !VerifyPassword(old_password, cred->pw_hash)) {
    return Status::Forbidden("wrong_password", "the current password is not right");
  }
  PARLEY_RETURN_IF_ERROR(store_.LoginSucceeded(c.user.username, address));
  PARLEY_ASSIGN_OR_RETURN(std::string hash, HashPassword(new_password));
  PARLEY_RETURN_IF_ERROR(store_.SetPassword(c.user.id, hash, TokenHash(c.creds->token)));
  return NoContent();
}

Result<Response> Api::Blocks(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(UserPageQuery q, QueryUserPage(c.req.query));
  PARLEY_ASSIGN_OR_RETURN(BlockPage page, store_.Blocks(c.user, q));
  return JsonResponse(200, WrapUserPage("blocks", page.blocks, page.next));
}

Result<Response> Api::Block(Call& c) {
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_RETURN_IF_ERROR(store_.Block(c.user, c.route.name));
  return NoContent();
}

Result<Response> Api::Unblock(Call& c) {
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_RETURN_IF_ERROR(store_.Unblock(c.user, c.route.name));
  return NoContent();
}

Result<Response> Api::AdminUsers(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(bool admin, store_.IsAdmin(c.user.id));
  if (!admin) return Status::Forbidden("not_admin", "only a site admin can do that");
  std::string prefix = QueryParam(c.req.query, "prefix").value_or("");
  PARLEY_RETURN_IF_ERROR(ValidatePrefix(prefix, kMaxUsername));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(c.req.query, "limit", 1, 200));
  PARLEY_ASSIGN_OR_RETURN(std::vector<AccountInfo> users,
                          store_.AdminListUsers(prefix, static_cast<int>(limit.value_or(50))));
  JsonWriter w;
  w.BeginObject().Key("users").BeginArray();
  for (const AccountInfo& a : users) WriteAccount(w, a);
  w.EndArray().EndObject();
  return JsonResponse(200, w.Take());
}

Result<Response> Api::SetDeactivated(Call& c, bool deactivated) {
  PARLEY_RETURN_IF_ERROR(CheckPathUsername(c.route.name));
  PARLEY_RETURN_IF_ERROR(store_.SetDeactivated(c.user, c.route.name, deactivated));
  return NoContent();
}

}  // namespace parley::fcgi
