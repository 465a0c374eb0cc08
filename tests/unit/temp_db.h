// Shared by the unit tests: a temporary directory that removes itself, a
// real SQLite file in it (opened and migrated), and gtest helpers for Status
// and Result. Tests run against real databases, never mocks.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "schema/db.h"
#include "schema/migrate.h"
#include "schema/status.h"

namespace parley::test {

// A password hash for test users: no Store looks inside it, and a real
// Argon2id hash costs ~50-100 ms a user.
inline constexpr const char* kFakeHash = "$argon2id$v=19$m=65536,t=2,p=1$fake$fake";
// The room `general`, created by the first migration.
inline constexpr int64_t kGeneral = 1;

// mkdtemp under $TMPDIR (or /tmp); removed with its contents on destruction.
// Unix socket paths must fit in 108 bytes, so a long $TMPDIR falls back to /tmp.
class TempDir {
 public:
  TempDir() {
    const char* env = getenv("TMPDIR");
    std::string base = env && *env && std::string_view(env).size() < 60 ? env : "/tmp";
    std::string tmpl = base + "/parley-unit-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) {
      path_ = buf.data();
    } else {
      ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    }
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

inline const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "kOk";
    case Code::kInvalid: return "kInvalid";
    case Code::kUnauthorized: return "kUnauthorized";
    case Code::kForbidden: return "kForbidden";
    case Code::kNotFound: return "kNotFound";
    case Code::kMethodNotAllowed: return "kMethodNotAllowed";
    case Code::kConflict: return "kConflict";
    case Code::kTooLarge: return "kTooLarge";
    case Code::kUnsupported: return "kUnsupported";
    case Code::kThrottled: return "kThrottled";
    case Code::kUnavailable: return "kUnavailable";
    case Code::kInternal: return "kInternal";
  }
  return "?";
}

inline ::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << CodeName(s.code()) << " " << s.ToString();
}
template <typename T>
::testing::AssertionResult IsOk(const Result<T>& r) {
  return IsOk(r.status());
}

// The status has this code and reason (the JSON error code of the API).
inline ::testing::AssertionResult HasError(const Status& s, Code code, std::string_view reason) {
  if (s.code() == code && s.reason() == reason) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << CodeName(code) << " " << reason << ", got "
                                       << CodeName(s.code()) << " " << s.ToString();
}
template <typename T>
::testing::AssertionResult HasError(const Result<T>& r, Code code, std::string_view reason) {
  return HasError(r.status(), code, reason);
}

// Opens a database file (creating it) and, by default, applies the
// migrations. Fails the current test and returns null on error.
inline std::unique_ptr<Db> OpenDb(const std::string& path, bool migrate = true, int busy_timeout_ms = 5000) {
  auto db = Db::Open(path, busy_timeout_ms);
  if (!db.ok()) {
    ADD_FAILURE() << "open " << path << ": " << db.status().ToString();
    return nullptr;
  }
  if (migrate) {
    auto v = Migrate(**db);
    if (!v.ok()) {
      ADD_FAILURE() << "migrate " << path << ": " << v.status().ToString();
      return nullptr;
    }
  }
  return std::move(db).value();
}

}  // namespace parley::test

#define EXPECT_OK(expr) EXPECT_TRUE(::parley::test::IsOk(expr))
#define ASSERT_OK(expr) ASSERT_TRUE(::parley::test::IsOk(expr))
#define EXPECT_ERROR(expr, code, reason) EXPECT_TRUE(::parley::test::HasError((expr), (code), (reason)))
#define ASSERT_ERROR(expr, code, reason) ASSERT_TRUE(::parley::test::HasError((expr), (code), (reason)))

#define PARLEY_TEST_CONCAT_INNER(a, b) a##b
#define PARLEY_TEST_CONCAT(a, b) PARLEY_TEST_CONCAT_INNER(a, b)
#define PARLEY_TEST_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                            \
  ASSERT_TRUE(::parley::test::IsOk(tmp));       \
  lhs = std::move(tmp).value()
// Declares `lhs` from a Result, or fails the test (in functions returning void).
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  PARLEY_TEST_ASSIGN_IMPL(PARLEY_TEST_CONCAT(_parley_result_, __LINE__), lhs, expr)
