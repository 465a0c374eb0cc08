// A small HTTP client over libcurl for end-to-end tests.
//
// One Client is one simulated device: it owns one CURL easy handle (reused,
// so keep-alive works as in a browser) and, when enabled, an in-memory cookie
// jar. Threading: a Client is used by one thread at a time; give each thread
// its own. Requests never throw: transport failures come back as
// Response::curl_error with status 0.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "json.h"

typedef void CURL;

namespace parley::e2e {

struct Response {
  long status = 0;                // 0 when the transfer failed
  std::string curl_error;         // empty on success
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  // First header with that (lower-case) name, or "".
  std::string Header(const std::string& name) const;
  // All values of a header (Set-Cookie may repeat).
  std::vector<std::string> Headers(const std::string& name) const;
  // The parsed body, or a null Json if it is not JSON.
  Json json() const { return Json::Parse(body); }
  // error.code of an API error body, or "".
  std::string ErrorCode() const;
  // A one-line summary for assertion messages.
  std::string Describe() const;
};

using HeaderList = std::vector<std::string>;  // "Name: value"

class Client {
 public:
  enum class Cookies { kOn, kOff };
  explicit Client(std::string base_url, Cookies cookies = Cookies::kOn);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Every request carries "Authorization: Bearer <token>" when set.
  void set_bearer(std::string token) { bearer_ = std::move(token); }
  const std::string& bearer() const { return bearer_; }
  // Connect to this unix socket instead of base_url's host (one daemon of
  // a cluster, bypassing nginx); base_url still gives the Host and path.
  void set_unix_socket(std::string path) { unix_socket_ = std::move(path); }
  // The whole request's bound (default 30 s); a chaos test's sender gives
  // up sooner on a request lost in a fault, and retries it.
  void set_timeout_ms(long ms) { timeout_ms_ = ms; }
  // Ask for gzip, as browsers do (Accept-Encoding), and decode what comes
  // compressed: the body is the plain one, and Content-Encoding stays
  // among the headers to tell which answers were compressed.
  void set_accept_gzip(bool on) { accept_gzip_ = on; }
  // The value of a cookie in the jar, or "".
  std::string Cookie(const std::string& name) const;

  // A non-empty body is sent as application/json unless `headers` names a
  // Content-Type. Path starts with "/".
  Response Request(const std::string& method, const std::string& path,
                   const std::string& body = "", const HeaderList& headers = {});
  Response Get(const std::string& path, const HeaderList& headers = {}) {
    return Request("GET", path, "", headers);
  }
  Response Post(const std::string& path, const std::string& body = "",
                const HeaderList& headers = {}) {
    return Request("POST", path, body, headers);
  }
  Response Put(const std::string& path, const std::string& body, const HeaderList& headers = {}) {
    return Request("PUT", path, body, headers);
  }
  Response Patch(const std::string& path, const std::string& body, const HeaderList& headers = {}) {
    return Request("PATCH", path, body, headers);
  }
  Response Delete(const std::string& path, const HeaderList& headers = {}) {
    return Request("DELETE", path, "", headers);
  }

  const std::string& base_url() const { return base_url_; }

 private:
  struct CurlCleanup {
    void operator()(CURL* c) const;
  };
  std::string base_url_;
  std::string bearer_;
  std::string unix_socket_;
  long timeout_ms_ = 30000;
  bool accept_gzip_ = false;
  std::unique_ptr<CURL, CurlCleanup> curl_;
};

}  // namespace parley::e2e
