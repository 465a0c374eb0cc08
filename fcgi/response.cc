#include "fcgi/response.h"

#include <string>

#include "schema/json.h"

namespace parley::fcgi {

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response ErrorResponse(const Status& st) {
  Response r = JsonResponse(HttpStatus(st.code()), ErrorJson(st));
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
