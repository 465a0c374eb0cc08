// The REST API of DESIGN section 3 over a Store: Request in, Response out.
// No libfcgi and no sockets here, so unit tests drive it in-process.
//
// Order of checks for every request: route (404/405), body (413/415/400),
// credentials (401), CSRF for cookie-authenticated unsafe methods (403),
// then the handler, whose store call re-checks membership inside its own
// transaction. Events appended by a write wake parley-events afterwards.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "fcgi/admitted.h"
#include "fcgi/auth.h"
#include "fcgi/http.h"
#include "fcgi/notifier.h"
#include "fcgi/read_quota.h"
#include "fcgi/router.h"
#include "schema/json.h"
#include "schema/storage.h"

namespace parley::fcgi {

// Where uploads live (fcgi/handlers_uploads.cc). Both on one file system:
// a spooled body becomes an upload by rename(2), never by copying.
struct UploadDirs {
  std::string spool;  // nginx's client_body_temp_path for POST /api/uploads
  std::string files;  // the uploads, one file per id
};

class Api {
 public:
  // reads: the process's per-user read bucket (read_quota.h), shared by its
  // Apis; none: reads are not counted.
  Api(Storage& store, Notifier& notifier, UploadDirs uploads = {}, ReadQuota* reads = nullptr)
      : store_(store), notifier_(notifier), uploads_(std::move(uploads)), reads_(reads) {}
  Response Handle(const Request& req) { return Handle(req, Route(req.method, req.path)); }
  // With the route already matched (the worker matches it to choose where
  // the request runs): the path is not matched twice. Admit, then Run.
  Response Handle(const Request& req, const RouteMatch& route);
  // Every check before the handler, in the order above: the answer that
  // refuses the request, or the request admitted (admitted.h).
  std::variant<Response, Admitted> Admit(const Request& req, const RouteMatch& route);
  // The handler of an admitted request, on this Api's store: req and route
  // as given to Admit, on this Api or another (a read lane's, worker.cc).
  // It takes what admitted holds.
  Response Run(const Request& req, const RouteMatch& route, Admitted&& admitted);

 private:
  // Everything a handler may need about the request being served.
  struct Call {
    const Request& req;
    const RouteMatch& route;
    const cJSON* body = nullptr;
    std::optional<Credentials> creds;
    User user;  // set for every non-public route
  };
  Result<Response> Dispatch(Call& c);
  Result<Admitted> Authenticate(const Request& req, const RouteMatch& route);
  // A failed request's answer, logged when the fault is ours: a refusal
  // that repeats (an outage, a full disk) once a second per thread and
  // reason, saying how many it stands for.
  static Response Refused(const Request& req, const Status& st);

  // handlers_auth.cc
  Result<Response> Register(Call& c);
  Result<Response> Login(Call& c);
  Result<Response> Logout(Call& c);
  Result<Response> Me(Call& c);
  Result<Response> Users(Call& c);
  Result<Response> Health(Call& c);
  // pw_hash: the one the password was checked against (CreateSession).
  Result<Response> SignedIn(const User& user, const std::string& pw_hash, int status, bool https);
  // handlers_rooms.cc
  Result<Response> Rooms(Call& c);
  Result<Response> CreateRoom(Call& c);
  Result<Response> GetRoom(Call& c);
  Result<Response> UpdateRoom(Call& c);
  Result<Response> Join(Call& c);
  Result<Response> Leave(Call& c);
  Result<Response> Invite(Call& c);
  Result<Response> Invitations(Call& c);
  Result<Response> DeclineInvitation(Call& c);
  Result<Response> RoomInvitations(Call& c);
  Result<Response> Members(Call& c);
  Result<Response> GetMember(Call& c);
  Result<Response> Dm(Call& c);
  Result<Response> Typing(Call& c);
  Result<Response> Read(Call& c);
  // handlers_messages.cc
  Result<Response> History(Call& c);
  Result<Response> Send(Call& c);
  Result<Response> Answer(Call& c);
  Result<Response> Edit(Call& c);
  Result<Response> Delete(Call& c);
  // handlers_moderation.cc
  Result<Response> UpdateMember(Call& c);
  Result<Response> Kick(Call& c);
  Result<Response> Bans(Call& c);
  Result<Response> Ban(Call& c);
  Result<Response> Unban(Call& c);
  Result<Response> Password(Call& c);
  Result<Response> Blocks(Call& c);
  Result<Response> Block(Call& c);
  Result<Response> Unblock(Call& c);
  Result<Response> AdminUsers(Call& c);
  Result<Response> SetDeactivated(Call& c, bool deactivated);
  // handlers_conversations.cc (issue 12)
  Result<Response> RoomList(Call& c);
  Result<Response> Directory(Call& c);
  Result<Response> Notifications(Call& c);
  Result<Response> React(Call& c, bool add);
  Result<Response> Search(Call& c);
  // handlers_uploads.cc
  Result<Response> PostUpload(Call& c);
  Result<Response> GetUpload(Call& c);

  Storage& store_;
  Notifier& notifier_;
  UploadDirs uploads_;
  BucketMap typing_buckets_;  // per user; see Typing() for why in memory
  ReadQuota* const reads_;
};

}  // namespace parley::fcgi
