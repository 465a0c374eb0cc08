// Names shown to others (hardening item 11), through the real stack:
// usernames "." and "..", and room names with control, bidi-override or
// zero-width characters, are 400 invalid_field.
#include <string>
#include <vector>

#include "fixture.h"

namespace parley::e2e {
namespace {

class NamesTest : public StackTest {};

TEST_F(NamesTest, DotUsernamesAreRefused) {
  auto c = NewClient(Client::Cookies::kOff);
  for (const char* name : {".", ".."}) {
    Response r = c->Post("/api/register", "{\"username\":" + Quote(name) + ",\"password\":" + Quote(kPassword) + "}");
    EXPECT_EQ(r.status, 400) << name << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << r.body;
  }
  // A DM naming them is refused as any malformed username in a body.
  User alice = Register("alice");
  Response dm = alice->Post("/api/dm", "{\"username\":\"..\"}");
  EXPECT_EQ(dm.status, 400) << dm.Describe();
  EXPECT_EQ(dm.ErrorCode(), "invalid_field") << dm.body;
}

TEST_F(NamesTest, HiddenCharactersInRoomNamesAreRefused) {
  User alice = Register("alice");
  // JSON escapes, so the bytes reach the server exactly.
  const std::vector<std::string> bad = {"\\u202Egnp.exe", "ad\\u202Amin", "a\\u2066b", "a\\u200Eb", "a\\u061Cb",
                                        "gen\\u200Beral", "a\\u200Db", "a\\u2060b", "\\uFEFFgeneral",
                                        "a\\u0085b", "a\\u001bb",
                                        // The rest of Default_Ignorable_Code_Point: invisible operators,
                                        // soft hyphen, fillers, selectors, grapheme joiner, tags.
                                        "gen\\u2063eral", "gen\\u2064eral", "gen\\u00adeneral", "gen\\u180eeral",
                                        "gen\\u034feral", "gen\\ufe00eral", "gen\\udb40\\udc01eral", "a\\u3164b",
                                        "a\\u2028b"};
  for (const std::string& name : bad) {
    Response r = alice->Post("/api/rooms", "{\"name\":\"" + name + "\",\"kind\":\"public\"}");
    EXPECT_EQ(r.status, 400) << name << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << name << ": " << r.body;
  }
  // Ordinary non-Latin names are fine, and an emoji's colour form.
  Response coffee = alice->Post("/api/rooms", "{\"name\":\"\\u2615\\ufe0f " + Unique("r") + "\",\"kind\":\"public\"}");
  EXPECT_EQ(coffee.status, 201) << coffee.Describe();
  Response ok = alice->Post("/api/rooms", "{\"name\":\"caf\\u00e9 \\u65e5\\u672c " + Unique("r") + "\",\"kind\":\"public\"}");
  EXPECT_EQ(ok.status, 201) << ok.Describe();
}

// Look-alikes (README, Limits): letters of two scripts that pass for each
// other's, and characters drawn as ASCII ones, are 400 invalid_field, in a
// new room and in a rename; Japanese names mixing Latin with kana and
// kanji, a name wholly in Armenian, and a flag pass.
TEST_F(NamesTest, LookalikesInRoomNamesAreRefused) {
  User alice = Register("alice");
  const std::vector<std::string> bad = {"g\\u0585od",      // Armenian oh
                                        "\\u13AApple",     // Cherokee GO, drawn as A
                                        "\\u2113ab",       // script small l
                                        "o\\uFB03ce",      // ffi ligature
                                        "v1\\u20242",      // one dot leader
                                        "Team\\u02D7Chat",  // modifier minus sign
                                        "\\u24D6ood",      // circled g
                                        "E\\u028Begbe"};   // v with hook
  int64_t room = CreateRoom(alice, Unique("plain"), "public");
  for (const std::string& name : bad) {
    Response r = alice->Post("/api/rooms", "{\"name\":\"" + name + "\",\"kind\":\"public\"}");
    EXPECT_EQ(r.status, 400) << name << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << name << ": " << r.body;
    Response rename = alice->Patch(RoomPath(room), "{\"name\":\"" + name + "\"}");
    EXPECT_EQ(rename.status, 400) << name << ": " << rename.Describe();
    EXPECT_EQ(rename.ErrorCode(), "invalid_field") << name << ": " << rename.body;
  }
  for (const std::string& name :
       {"Tokyo \\u306E\\u90E8\\u5C4B " + Unique("r"),                                      // Tokyo の部屋
        "\\u0540\\u0561\\u0575\\u0561\\u057D\\u057F\\u0561\\u0576 " + std::to_string(room),  // Հայաստան
        "\\uD83C\\uDDEF\\uD83C\\uDDF5 " + Unique("r"),                                      // a flag
        "Hi\\u2026 " + Unique("r")}) {                                                       // the ellipsis
    Response r = alice->Post("/api/rooms", "{\"name\":\"" + name + "\",\"kind\":\"public\"}");
    EXPECT_EQ(r.status, 201) << name << ": " << r.Describe();
  }
}

}  // namespace
}  // namespace parley::e2e
