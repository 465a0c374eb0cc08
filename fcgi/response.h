// Building responses (the Status -> HTTP table is schema/status.h's HttpStatus).
#pragma once

#include "fcgi/http.h"
#include "schema/status.h"

namespace parley::fcgi {

Response JsonResponse(int status, std::string body);
// {"error":{"code":reason,"message":message}} with the mapped status.
Response ErrorResponse(const Status& st);
Response NoContent();

}  // namespace parley::fcgi
