#include "fcgi/api.h"

#include <cstdint>
#include <string>
#include <unordered_map>

#include "fcgi/input.h"
#include "fcgi/response.h"
#include "schema/crypto.h"
#include "schema/log.h"

namespace parley::fcgi {

Response Api::Handle(const Request& req, const RouteMatch& route) {
  std::variant<Response, Admitted> admitted = Admit(req, route);
  if (Response* refused = std::get_if<Response>(&admitted)) return std::move(*refused);
  return Run(req, route, std::get<Admitted>(std::move(admitted)));
}

std::variant<Response, Admitted> Api::Admit(const Request& req, const RouteMatch& route) {
  if (route.kind == RouteMatch::Kind::kNotFound) {
    return ErrorResponse(Status::NotFound("not_found", "no such API endpoint"));
  }
  if (route.kind == RouteMatch::Kind::kWrongMethod) {
    Response r = ErrorResponse(Status(Code::kMethodNotAllowed, "method_not_allowed",
                                      req.method + " is not allowed here; use " + route.allow));
    r.headers.emplace_back("Allow", route.allow);
    return r;
  }
  JsonPtr body;
  if (TakesBody(route.id)) {
    auto parsed = ParseJsonObject(req.content_type, req.body);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    body = std::move(parsed).value();
  } else if (req.body.size() > kMaxBody) {
    return ErrorResponse(Status(Code::kTooLarge, "body_too_large", "the request body is too large"));
  }
  Result<Admitted> admitted = Authenticate(req, route);
  if (!admitted.ok()) return Refused(req, admitted.status());
  if (reads_ != nullptr && req.method == "GET" && !IsPublic(route.id)) {
    if (Status st = reads_->Take(admitted->user.id, NowMs()); !st.ok()) return Refused(req, st);
  }
  admitted->body = std::move(body);
  return std::move(admitted).value();
}

Response Api::Run(const Request& req, const RouteMatch& route, Admitted&& admitted) {
  Call call{req, route, admitted.body.get(), std::move(admitted.creds), std::move(admitted.user)};
  Result<Response> result = Dispatch(call);
  // Wake the events daemon for whatever this request committed, even if a
  // later step of it failed. Inside a write batch nothing is committed yet:
  // the batch's writer wakes it once, after its COMMIT (fcgi/writer.h).
  if (!store_.in_batch()) {
    if (int64_t head = store_.TakeNotifyHead(); head > 0) notifier_.Head(head);
  }
  if (!result.ok()) return Refused(req, result.status());
  return std::move(result).value();
}

namespace {

// Whether a refusal of this kind is to be logged: the first on this thread,
// then one a second; *more says how many went unlogged before it (" (and 41
// more like it)"), empty if none. A database that is down refuses every
// request alike, and a client sending random tokens drives thousands a
// second (150 requests made 311 lines with PostgreSQL stopped). One
// throttle per thread and kind (the request threads, the writer), so it
// takes no lock; kinds are reasons, the code's own literals, so the map
// stays small.
bool RefusalDue(const std::string& kind, std::string* more) {
  thread_local std::unordered_map<std::string, LogEverySecond> throttles;
  uint64_t since = 0;
  if (!throttles[kind].Due(&since)) return false;
  if (since > 1) *more = " (and " + std::to_string(since - 1) + " more like it since the last line)";
  return true;
}

}  // namespace

Response Api::Refused(const Request& req, const Status& st) {
  std::string more;
  if (st.code() == Code::kInternal) {
    LOG_ERROR("%s %s failed: %s", req.method.c_str(), req.path.c_str(), st.message().c_str());
  } else if (st.reason() == "storage_full") {
    if (RefusalDue("full", &more)) {
      LOG_ERROR("%s %s refused: the database's disk is full%s", req.method.c_str(), req.path.c_str(), more.c_str());
    }
  } else if (st.message_is_private()) {
    // The client was told only the code (ErrorJson): the why is for the log.
    if (RefusalDue("private " + st.reason(), &more)) {
      LOG_WARN("%s %s: %s: %s%s", req.method.c_str(), req.path.c_str(), st.reason().c_str(), st.message().c_str(),
               more.c_str());
    }
  } else if (st.code() == Code::kUnavailable) {
    if (RefusalDue("busy " + st.reason(), &more)) {
      LOG_WARN("%s %s: database busy%s", req.method.c_str(), req.path.c_str(), more.c_str());
    }
  }
  return ErrorResponse(st);
}

Result<Admitted> Api::Authenticate(const Request& req, const RouteMatch& route) {
  Admitted a;
  auto creds = ExtractCredentials(req);
  if (IsPublic(route.id)) {
    // Login CSRF: a cross-site page must not sign a browser in to the
    // attacker's account. Clients that send no Origin (curl) are not browsers.
    if (IsUnsafeMethod(req.method) && !req.origin.empty()) PARLEY_RETURN_IF_ERROR(CheckCsrf(req));
    if (creds.ok()) a.creds = std::move(creds).value();
    return a;
  }
  if (!creds.ok()) return creds.status();
  a.creds = std::move(creds).value();
  if (!a.creds) return Status::Unauthorized("not_signed_in", "sign in first");
  PARLEY_ASSIGN_OR_RETURN(std::optional<User> user, store_.SessionUser(TokenHash(a.creds->token)));
  if (!user) return Status::Unauthorized("not_signed_in", "the session has ended; sign in again");
  a.user = std::move(*user);
  if (a.creds->from_cookie && IsUnsafeMethod(req.method)) PARLEY_RETURN_IF_ERROR(CheckCsrf(req));
  return a;
}

Result<Response> Api::Dispatch(Call& c) {
  switch (c.route.id) {
    case RouteId::kRegister: return Register(c);
    case RouteId::kLogin: return Login(c);
    case RouteId::kLogout: return Logout(c);
    case RouteId::kMe: return Me(c);
    case RouteId::kUsers: return Users(c);
    case RouteId::kHealth: return Health(c);
    case RouteId::kRooms: return RoomList(c);
    case RouteId::kCreateRoom: return CreateRoom(c);
    case RouteId::kJoin: return Join(c);
    case RouteId::kLeave: return Leave(c);
    case RouteId::kInvite: return Invite(c);
    case RouteId::kMembers: return Members(c);
    case RouteId::kMember: return GetMember(c);
    case RouteId::kUpdateMember: return UpdateMember(c);
    case RouteId::kDm: return Dm(c);
    case RouteId::kTyping: return Typing(c);
    case RouteId::kRead: return Read(c);
    case RouteId::kHistory: return History(c);
    case RouteId::kSend: return Send(c);
    case RouteId::kAnswer: return Answer(c);
    case RouteId::kEdit: return Edit(c);
    case RouteId::kDelete: return Delete(c);
    case RouteId::kKick: return Kick(c);
    case RouteId::kBans: return Bans(c);
    case RouteId::kBan: return Ban(c);
    case RouteId::kUnban: return Unban(c);
    case RouteId::kPassword: return Password(c);
    case RouteId::kBlocks: return Blocks(c);
    case RouteId::kBlock: return Block(c);
    case RouteId::kUnblock: return Unblock(c);
    case RouteId::kAdminUsers: return AdminUsers(c);
    case RouteId::kDeactivate: return SetDeactivated(c, true);
    case RouteId::kReactivate: return SetDeactivated(c, false);
    case RouteId::kDirectory: return Directory(c);
    case RouteId::kNotifications: return Notifications(c);
    case RouteId::kReact: return React(c, true);
    case RouteId::kUnreact: return React(c, false);
    case RouteId::kSearch: return Search(c);
    case RouteId::kUpload: return PostUpload(c);
    case RouteId::kDownload: return GetUpload(c);
    case RouteId::kRoom: return GetRoom(c);
    case RouteId::kUpdateRoom: return UpdateRoom(c);
    case RouteId::kInvitations: return Invitations(c);
    case RouteId::kDeclineInvitation: return DeclineInvitation(c);
    case RouteId::kRoomInvitations: return RoomInvitations(c);
  }
  return Status::Internal("unrouted request");
}

}  // namespace parley::fcgi
