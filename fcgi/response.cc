#include "fcgi/response.h"

#include <string>

#include "schema/json.h"

namespace parley::fcgi {

int HttpStatus(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalid: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kTooLarge: return 413;
    case Code::kUnsupported: return 415;
    case Code::kThrottled: return 429;
    case Code::kUnavailable: return 503;
    case Code::kInternal: return 500;
  }
  return 500;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
  }
}

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response ErrorResponse(const Status& st) {
  // Internal details (SQL, paths) stay in the log, not in the answer.
  std::string_view msg = st.code() == Code::kInternal ? std::string_view("internal error") : st.message();
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Key("code").String(st.reason()).Key("message").String(msg);
  w.EndObject().EndObject();
  Response r = JsonResponse(HttpStatus(st.code()), w.Take());
  if (st.code() == Code::kUnavailable || st.code() == Code::kThrottled) {
    r.headers.emplace_back("Retry-After", std::to_string(st.retry_after_s()));
  }
  return r;
}

Response NoContent() {
  Response r;
  r.status = 204;
  return r;
}

}  // namespace parley::fcgi
