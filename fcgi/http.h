// The request and response as the API sees them: plain values, no libfcgi,
// so that handlers run in-process in unit tests (the h2o way).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace parley::fcgi {

struct Request {
  std::string method;          // REQUEST_METHOD
  std::string path;            // without the query string
  std::string query;           // QUERY_STRING
  std::string content_type;    // CONTENT_TYPE
  std::string body;
  std::string cookie;          // HTTP_COOKIE
  std::string authorization;   // HTTP_AUTHORIZATION
  std::string origin;          // HTTP_ORIGIN
  std::string sec_fetch_site;  // HTTP_SEC_FETCH_SITE
  std::string host;            // HTTP_HOST
  bool https = false;          // HTTPS=on or REQUEST_SCHEME=https
  std::string remote_addr;     // REMOTE_ADDR: logs and login throttling
  // PARLEY_REQUEST_ID: nginx's $request_id, the same when nginx replays the
  // request on another worker (schema/model.h, kReplayKeyPrefix).
  std::string request_id;
  // PARLEY_UPLOAD_FILE: where nginx spooled the body of POST /api/uploads
  // (client_body_in_file_only); the body itself is then not passed.
  std::string upload_file;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // JSON, or empty (204)
};

}  // namespace parley::fcgi
