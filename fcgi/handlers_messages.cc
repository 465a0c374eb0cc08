// Messages: history, send, Q&A answers, edit and delete.
#include "fcgi/api.h"
#include "fcgi/input.h"
#include "fcgi/response.h"
#include "fcgi/validate.h"

namespace parley::fcgi {
namespace {

constexpr size_t kMaxAttachments = 10;

struct Draft {
  std::string text;
  std::optional<std::string> client_id;
};

// Without a client_id, nginx's request id keys the write (schema/model.h,
// kReplayKeyPrefix): 32 hex digits, as nginx writes $request_id; anything
// else (no nginx in front) keys nothing.
std::optional<std::string> ReplayKey(const std::string& request_id) {
  if (request_id.size() != 32 || request_id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return std::nullopt;
  }
  return std::string(kReplayKeyPrefix) + request_id;
}

Result<Draft> ReadDraft(const Request& req, const cJSON* body, bool text_optional = false) {
  Draft d;
  if (text_optional) {
    PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> text, OptionalString(body, "text"));
    d.text = text.value_or("");
  } else {
    PARLEY_ASSIGN_OR_RETURN(d.text, RequireString(body, "text"));
  }
  if (!text_optional || !d.text.empty()) PARLEY_RETURN_IF_ERROR(ValidateText(&d.text));
  PARLEY_ASSIGN_OR_RETURN(d.client_id, OptionalString(body, "client_id"));
  if (d.client_id) {
    PARLEY_RETURN_IF_ERROR(ValidateClientId(*d.client_id));
  } else {
    d.client_id = ReplayKey(req.request_id);
  }
  return d;
}

Response MessageResponse(const SendResult& r) {
  return JsonResponse(r.created ? 201 : 200, Wrap("message", r.message));
}

}  // namespace

Result<Response> Api::History(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> before, QueryInt(c.req.query, "before", 1, kMaxId));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> after, QueryInt(c.req.query, "after", 0, kMaxId));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(c.req.query, "limit", 1, 200));
  PARLEY_ASSIGN_OR_RETURN(HistoryPage page,
                          store_.History(c.user, c.route.num, before, after, static_cast<int>(limit.value_or(50))));
  JsonWriter w;
  w.BeginObject().Key("messages");
  Write(w, page.messages);
  w.Key("has_more").Bool(page.has_more).EndObject();
  return JsonResponse(200, w.Take());
}

Result<Response> Api::Send(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> attachments,
                          OptionalIdList(c.body, "attachments", kMaxAttachments, kMaxId));
  // A photo needs no caption: with attachments the text may be empty.
  PARLEY_ASSIGN_OR_RETURN(Draft d, ReadDraft(c.req, c.body, !attachments.empty()));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> reply_to, OptionalInt(c.body, "reply_to", 1, kMaxId));
  PARLEY_ASSIGN_OR_RETURN(SendResult r,
                          store_.Send(c.user, c.route.num, d.text, d.client_id, reply_to, attachments));
  return MessageResponse(r);
}

Result<Response> Api::Answer(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(Draft d, ReadDraft(c.req, c.body));
  PARLEY_ASSIGN_OR_RETURN(SendResult r, store_.Answer(c.user, c.route.num, d.text, d.client_id));
  return MessageResponse(r);
}

Result<Response> Api::Edit(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string text, RequireString(c.body, "text"));
  PARLEY_RETURN_IF_ERROR(ValidateText(&text));
  PARLEY_ASSIGN_OR_RETURN(Message m, store_.Edit(c.user, c.route.num, text));
  return JsonResponse(200, Wrap("message", m));
}

Result<Response> Api::Delete(Call& c) {
  PARLEY_RETURN_IF_ERROR(store_.Delete(c.user, c.route.num));
  return NoContent();
}

}  // namespace parley::fcgi
