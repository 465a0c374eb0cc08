// schema/backend/backend.cc: Redacted, what logs may show of a PARLEY_DB.
#include "schema/backend/backend.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

// No secret of `spec` may be in what Redacted makes of it.
void ExpectHidden(const std::string& spec, std::initializer_list<const char*> secrets) {
  const std::string shown = Redacted(spec);
  for (const char* secret : secrets) EXPECT_EQ(shown.find(secret), std::string::npos) << spec << " -> " << shown;
}

// An audit: only the first secret was masked, and find("password=") found
// "sslpassword=" first.
TEST(RedactedTest, EverySecretOfAUrlIsMasked) {
  ExpectHidden("postgresql://u:pw1@127.0.0.1:18499/db?password=SECRET2", {"pw1", "SECRET2"});
  ExpectHidden("postgresql://u@127.0.0.1:18499/db?sslpassword=x&password=SECRET3", {"SECRET3", "=x"});
  ExpectHidden("postgres://u:p%40ss%20w@host/db", {"p%40ss", "p@ss", "ss w"});
  ExpectHidden("postgresql://u@/db?host=/run/postgresql&password=p%26q", {"p%26q", "p&q"});
  const std::string shown = Redacted("postgresql://alice:pw1@db.example:5433/parley?sslmode=require");
  for (const char* kept : {"alice", "db.example", "5433", "parley", "require"}) {
    EXPECT_NE(shown.find(kept), std::string::npos) << kept << " in " << shown;
  }
}

TEST(RedactedTest, EverySecretOfTheKeywordFormIsMasked) {
  ExpectHidden("host=/tmp dbname=parley password=SECRET1 sslpassword=SECRET2", {"SECRET1", "SECRET2"});
  ExpectHidden("host=/tmp sslpassword=A password=B dbname=parley", {"=A", "=B"});
  ExpectHidden("host=/tmp password='two words' dbname=parley", {"two", "words"});
  ExpectHidden("host=/tmp password = 'it\\'s' dbname=parley", {"it"});
  const std::string shown = Redacted("host=/run/postgresql dbname='my db' user=bob");
  EXPECT_NE(shown.find("/run/postgresql"), std::string::npos) << shown;
  EXPECT_NE(shown.find("'my db'"), std::string::npos) << shown;
  EXPECT_NE(shown.find("bob"), std::string::npos) << shown;
}

TEST(RedactedTest, WithoutAPasswordNothingIsMasked) {
  EXPECT_EQ(Redacted("postgresql://u@127.0.0.1:18499/db").find("***"), std::string::npos);
  EXPECT_EQ(Redacted("host=/tmp dbname=parley").find("***"), std::string::npos);
}

TEST(RedactedTest, AnSqlitePathIsLeftAlone) {
  EXPECT_EQ(Redacted("/var/lib/parley/parley.db"), "/var/lib/parley/parley.db");
  EXPECT_EQ(Redacted("data/password=x.db"), "data/password=x.db");
}

// A string libpq cannot read shows nothing of itself: it could be anything.
TEST(RedactedTest, AnUnreadableConnectionStringShowsNothing) {
  ExpectHidden("host=/tmp password='SECRET unterminated", {"SECRET"});
  ExpectHidden("postgresql://u:SECRET@host:notaport[/db", {"SECRET"});
}

}  // namespace
}  // namespace parley
