// Building responses: the one table from Status codes to HTTP statuses.
#pragma once

#include "fcgi/http.h"
#include "schema/status.h"

namespace parley::fcgi {

int HttpStatus(Code code);
Response JsonResponse(int status, std::string body);
// {"error":{"code":reason,"message":message}} with the mapped status.
Response ErrorResponse(const Status& st);
Response NoContent();

}  // namespace parley::fcgi
