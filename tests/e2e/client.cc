#include "client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace parley::e2e {
namespace {

// curl_global_init is not thread-safe; run it once before any handle.
void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100 Continue or a retry)
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t v = line.find_first_not_of(" \t", colon + 1);
    headers->emplace_back(name, v == std::string::npos ? "" : line.substr(v));
  }
  return size * n;
}

bool HasHeader(const HeaderList& headers, const char* name) {
  size_t len = std::char_traits<char>::length(name);
  for (const auto& h : headers) {
    if (h.size() > len && h[len] == ':' &&
        std::equal(h.begin(), h.begin() + static_cast<long>(len), name,
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string Response::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

std::vector<std::string> Response::Headers(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k == name) out.push_back(v);
  }
  return out;
}

std::string Response::ErrorCode() const { return json()["error"]["code"].str(); }

std::string Response::Describe() const {
  std::string out = "HTTP " + std::to_string(status);
  if (!curl_error.empty()) out += " (curl: " + curl_error + ")";
  out += " body: " + (body.size() > 400 ? body.substr(0, 400) + "..." : body);
  return out;
}

void Client::CurlCleanup::operator()(CURL* c) const { curl_easy_cleanup(c); }

Client::Client(std::string base_url, Cookies cookies) : base_url_(std::move(base_url)) {
  GlobalInit();
  curl_.reset(curl_easy_init());
  if (cookies == Cookies::kOn) {
    curl_easy_setopt(curl_.get(), CURLOPT_COOKIEFILE, "");  // in-memory jar
  }
  if (base_url_.rfind("https://", 0) == 0) {
    // A stack with TLS on (StackOptions::tls) serves a self-signed
    // certificate made for that run, on 127.0.0.1 only; HTTP/2 as a browser
    // would negotiate it.
    curl_easy_setopt(curl_.get(), CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl_.get(), CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl_.get(), CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  }
}

Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

std::string Client::Cookie(const std::string& name) const {
  curl_slist* raw = nullptr;
  if (curl_easy_getinfo(curl_.get(), CURLINFO_COOKIELIST, &raw) != CURLE_OK) return "";
  Slist list(raw);
  std::string value;
  // Netscape format: domain, flag, path, secure, expiry, name, value (tabs).
  for (curl_slist* l = raw; l; l = l->next) {
    std::string line = l->data;
    std::vector<std::string> f;
    size_t start = 0;
    for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
      f.push_back(line.substr(start, tab - start));
    }
    f.push_back(line.substr(start));
    if (f.size() >= 7 && f[5] == name) value = f[6];
  }
  return value;
}

Response Client::Request(const std::string& method, const std::string& path,
                         const std::string& body, const HeaderList& headers) {
  Response r;
  CURL* c = curl_.get();
  if (!c) {
    r.curl_error = "curl_easy_init failed";
    return r;
  }
  const std::string url = base_url_ + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_socket_.empty() ? nullptr : unix_socket_.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, accept_gzip_ ? "gzip" : nullptr);

  // Reset what the previous request on this handle may have set.
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
  curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
  if (method == "GET") {
    // HTTPGET above.
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    // POSTFIELDS with an explicit size: binary bodies (NUL bytes) intact.
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    if (method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  HeaderList all = headers;
  // curl would add "Expect: 100-continue" to larger bodies and a form
  // Content-Type to every POST; a test states exactly what it sends.
  all.push_back("Expect:");
  if (!HasHeader(headers, "Content-Type")) {
    all.push_back(body.empty() ? "Content-Type:" : "Content-Type: application/json");
  }
  if (!bearer_.empty() && !HasHeader(headers, "Authorization")) {
    all.push_back("Authorization: Bearer " + bearer_);
  }
  Slist list;
  for (const auto& h : all) {
    curl_slist* next = curl_slist_append(list.get(), h.c_str());
    if (!next) break;
    (void)list.release();
    list.reset(next);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());

  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK) {
    r.curl_error = curl_easy_strerror(rc);
    r.status = 0;
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

}  // namespace parley::e2e
