// fcgi/limits_config.cc: PARLEY_LIMITS, PARLEY_WRITE_RATES, PARLEY_ROOMS_PER_USER,
// PARLEY_MEMBERSHIPS_PER_USER.
#include "fcgi/limits_config.h"

#include <gtest/gtest.h>

#include "tests/unit/temp_db.h"

namespace parley::fcgi {
namespace {

TEST(LimitsConfigTest, UnsetKeepsTheDefaults) {
  Limits l;
  ASSERT_OK(ApplyLimitsEnv({}, &l));
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kSend).per_second, 5);
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kSend).burst, 30);
  EXPECT_EQ(l.rooms_per_user, 50);
  EXPECT_EQ(l.memberships_per_user, 1000);
  ASSERT_OK(ApplyLimitsEnv({"on", "", "", ""}, &l));
  EXPECT_FALSE(l.rate(WriteClass::kTyping).unlimited());
}

TEST(LimitsConfigTest, RatesAndRoomCapsAreSet) {
  Limits l;
  ASSERT_OK(ApplyLimitsEnv({"on", "send=10/50,typing=0.5/3,read=0", "7", "20"}, &l));
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kSend).per_second, 10);
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kSend).burst, 50);
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kTyping).per_second, 0.5);
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kTyping).burst, 3);
  EXPECT_TRUE(l.rate(WriteClass::kRead).unlimited());
  EXPECT_FALSE(l.rate(WriteClass::kEdit).unlimited());  // untouched
  EXPECT_EQ(l.rooms_per_user, 7);
  EXPECT_EQ(l.memberships_per_user, 20);
  ASSERT_OK(ApplyLimitsEnv({nullptr, nullptr, nullptr, "0"}, &l));
  EXPECT_EQ(l.memberships_per_user, 0);
}

TEST(LimitsConfigTest, OffTurnsEveryQuotaOff) {
  Limits l;
  ASSERT_OK(ApplyLimitsEnv({"off", "send=10/50", "7", "20"}, &l));
  for (const Rate& r : l.write_rates) EXPECT_TRUE(r.unlimited());
  EXPECT_EQ(l.rooms_per_user, 0);
  EXPECT_EQ(l.memberships_per_user, 0);
}

TEST(LimitsConfigTest, BadValuesAreRefused) {
  for (const char* rates : {"send", "send=", "send=5", "send=5/0", "send=-1/3", "nosuch=1/1", "send=1/x",
                            "send=nan/3", "send=5/30,,", "send=1e99/3"}) {
    Limits l;
    EXPECT_FALSE(ApplyLimitsEnv({"on", rates}, &l).ok()) << rates;
  }
  Limits l;
  EXPECT_FALSE(ApplyLimitsEnv({"yes"}, &l).ok());
  for (const char* count : {"-1", "2.5", "ten", "1e10", "nan"}) {
    EXPECT_FALSE(ApplyLimitsEnv({nullptr, nullptr, count}, &l).ok()) << count;
    Status st = ApplyLimitsEnv({nullptr, nullptr, nullptr, count}, &l);
    EXPECT_FALSE(st.ok()) << count;
    EXPECT_NE(st.message().find("PARLEY_MEMBERSHIPS_PER_USER"), std::string::npos) << st.message();
  }
}

// Hostile values an operator's typo or a generated file can carry: a class
// twice (which one applied was silent), white space, hex, exponents, CR.
TEST(LimitsConfigTest, DuplicatesAndNonDecimalNumbersAreRefused) {
  for (const char* rates : {"send=5/30,send=0", "send=5/30,typing=1/10,send=5/30", "send= 5/30", "send=5/ 30",
                            "send=0x10/30", "send=5/0x1e", "send=1e1/30", "send=5/30\r", "send=+5/30",
                            "send=5/30/40"}) {
    Limits l;
    Status st = ApplyLimitsEnv({"on", rates}, &l);
    EXPECT_FALSE(st.ok()) << rates;
  }
  Limits l;
  Status twice = ApplyLimitsEnv({"on", "send=5/30,send=0"}, &l);
  EXPECT_NE(twice.message().find("send is given twice"), std::string::npos) << twice.message();
  Status junk = ApplyLimitsEnv({"on", "send=5/30junk"}, &l);
  EXPECT_NE(junk.message().find("bad burst for send"), std::string::npos) << junk.message();
  for (const char* count : {" 5", "0x10", "1e3", "+5", "5\r"}) {
    EXPECT_FALSE(ApplyLimitsEnv({nullptr, nullptr, count}, &l).ok()) << count;
  }
  ASSERT_OK(ApplyLimitsEnv({"on", "send=0.0167/10,typing=1.5/2.5", "1000", "0"}, &l));
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kSend).per_second, 0.0167);
  EXPECT_EQ(l.rooms_per_user, 1000);
}

// A rate too small to mean anything used to be taken: 1e-31 tokens a
// second made TakeToken's wait overflow int64_t (undefined; here it wrapped
// negative), and clients were told "Retry-After: 1" forever. The floor is one
// token a day; 0 still turns a class off. A trailing
// comma, an empty class, was taken too.
TEST(LimitsConfigTest, RatesBelowOneADayAndATrailingCommaAreRefused) {
  for (const char* rates : {"send=0.0000000000000000000000000000001/1", "send=0.0000115/1", "send=0.000001/30",
                            "typing=0.00000000001/10", "send=5/30,", "send=5/30,typing=1/10,", ","}) {
    Limits l;
    Status st = ApplyLimitsEnv({"on", rates}, &l);
    EXPECT_FALSE(st.ok()) << rates;
    EXPECT_NE(st.message().find("PARLEY_WRITE_RATES"), std::string::npos) << st.message();
  }
  Limits l;
  Status tiny = ApplyLimitsEnv({"on", "send=0.0000000000000000000000000000001/1"}, &l);
  EXPECT_NE(tiny.message().find("at least one token a day"), std::string::npos) << tiny.message();
  EXPECT_NE(ApplyLimitsEnv({"on", "send=5/30,"}, &l).message().find("empty"), std::string::npos);
  // One token a day (1/86400 = 0.00001157...) and more is taken; 0 is off.
  ASSERT_OK(ApplyLimitsEnv({"on", "send=0.0000116/1,typing=0/1,read=0"}, &l));
  EXPECT_DOUBLE_EQ(l.rate(WriteClass::kSend).per_second, 0.0000116);
  EXPECT_TRUE(l.rate(WriteClass::kTyping).unlimited());
  EXPECT_TRUE(l.rate(WriteClass::kRead).unlimited());
}

TEST(LimitsConfigTest, UploadSizes) {
  Limits l;
  ASSERT_OK(ApplyUploadEnv(nullptr, "", &l));
  EXPECT_EQ(l.upload_max_bytes, 25 << 20);
  EXPECT_EQ(l.upload_quota_bytes, int64_t{1} << 30);
  ASSERT_OK(ApplyUploadEnv("512k", "2G", &l));
  EXPECT_EQ(l.upload_max_bytes, 512 << 10);
  EXPECT_EQ(l.upload_quota_bytes, int64_t{2} << 30);
  ASSERT_OK(ApplyUploadEnv("1000", "0", &l));
  EXPECT_EQ(l.upload_max_bytes, 1000);
  EXPECT_EQ(l.upload_quota_bytes, 0);
  for (const char* bad : {"0", "25mb", "-1", "m", "1.5m", "99999999999999"}) {
    EXPECT_FALSE(ApplyUploadEnv(bad, nullptr, &l).ok()) << bad;
  }
  EXPECT_FALSE(ApplyUploadEnv(nullptr, "lots", &l).ok());
}

}  // namespace
}  // namespace parley::fcgi
