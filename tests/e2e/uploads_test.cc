// Attachments end to end (issue 12 item 2, DESIGN 3.2) through real nginx:
// nginx spools POST /api/uploads to a file and the worker only moves it, so
// a 25 MiB upload leaves a worker's peak RSS small; type, size, name and
// quota checks; downloads through X-Accel-Redirect with the worker's type
// and disposition, to the uploader and to members of a room where it was
// posted, 404 to anyone else; attachments on messages; the lifecycle (a
// deleted message's uploads gone at once, files collected, uploads never
// attached expiring); and the 16 KiB limit still everywhere else.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fixture.h"
#include "raw_http.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMiB = 1024 * 1024;

// A PNG signature and IHDR chunk for width x height, padded to `size` bytes
// (the worker reads only the header; the rest is the payload).
std::string Png(uint32_t width, uint32_t height, size_t size = 64) {
  std::string b = "\x89PNG\r\n\x1a\n";
  b += std::string("\0\0\0\x0dIHDR", 8);
  for (uint32_t v : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8) b += static_cast<char>((v >> shift) & 0xff);
  }
  b += std::string("\x08\x06\0\0\0", 5);
  if (b.size() < size) {
    // Not constant, so a transfer that drops or reorders bytes shows.
    b.reserve(size);
    for (size_t i = b.size(); i < size; ++i) b += static_cast<char>((i * 131) >> 7);
  }
  return b;
}

std::string Gif(uint16_t width, uint16_t height) {
  std::string b = "GIF89a";
  b += static_cast<char>(width & 0xff);
  b += static_cast<char>(width >> 8);
  b += static_cast<char>(height & 0xff);
  b += static_cast<char>(height >> 8);
  b += std::string(20, '\0');
  return b;
}

// Peak resident memory (VmHWM) of a process in bytes, 0 if it is gone.
uint64_t PeakRss(pid_t pid) { return ProcStatusBytes(pid, "VmHWM"); }

// Resets a process's VmHWM to its current RSS (proc(5), clear_refs "5"):
// registering hashed a password with Argon2id's 64 MiB, which would
// otherwise stay the peak of whichever worker did it.
bool ResetPeakRss(pid_t pid) {
  std::ofstream f("/proc/" + std::to_string(pid) + "/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

// Entries of a directory, without . and .. nor the uploads directory's
// mark (.parley-uploads, schema/uploads_mark.h), which is no upload.
std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n[0] != '.') out.push_back(n);
    }
    closedir(d);
  }
  return out;
}

class UploadsTest : public StackTest {
 protected:
  // POST /api/uploads?name=... with the raw body.
  Response Upload(User& u, const std::string& body, const std::string& query = "?name=photo.png",
                  const std::string& type = "application/octet-stream") {
    return u->Post("/api/uploads" + query, body, {"Content-Type: " + type});
  }
  // Uploads and expects 201; returns the upload object.
  Json Uploaded(User& u, const std::string& body, const std::string& query = "?name=photo.png",
                const std::string& type = "application/octet-stream") {
    Response r = Upload(u, body, query, type);
    if (r.status != 201) throw SetupError("upload: " + r.Describe());
    return r.json()["upload"];
  }
  static std::string UploadPath(const Json& upload) { return "/api/uploads/" + std::to_string(upload["id"].num()); }
  // Sends a message with these attachments; returns the response.
  Response SendWith(User& u, int64_t room, const std::string& text, const std::string& ids) {
    return u->Post(RoomPath(room, "/messages"), "{\"text\":" + Quote(text) + ",\"attachments\":" + ids + "}");
  }
  std::string SpoolDir() { return stack().dir() + "/spool"; }
  std::string FilesDir() { return stack().dir() + "/uploads"; }
  // nginx deletes a spooled body once its request is done: wait (bounded)
  // for the spool directory to be empty.
  bool SpoolEmpties() {
    for (auto until = Clock::now() + std::chrono::seconds(5); Clock::now() < until;) {
      if (ListDir(SpoolDir()).empty()) return true;
      usleep(50 * 1000);
    }
    return false;
  }
};

TEST_F(UploadsTest, A25MiBUploadIsStoredWithoutAWorkerHoldingIt) {
  User alice = Register("alice");
  // Warm the workers up (every one has served requests) for a fair
  // baseline, then start their peaks over from there.
  for (int i = 0; i < 8; ++i) ASSERT_EQ(alice->Get("/api/me").status, 200);
  uint64_t before = 0;
  for (pid_t w : stack().FcgiWorkers()) {
    ASSERT_TRUE(ResetPeakRss(w)) << "cannot write /proc/" << w << "/clear_refs";
    before = std::max(before, PeakRss(w));
  }

  const std::string body = Png(4000, 3000, 25 * kMiB);
  auto start = Clock::now();
  Response r = Upload(alice, body, "?name=big.png", "image/png");
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(r.status, 201) << r.Describe();
  Json u = r.json()["upload"];
  EXPECT_GT(u["id"].num(), 0);
  EXPECT_EQ(u["name"].str(), "big.png");
  EXPECT_EQ(u["mime"].str(), "image/png");
  EXPECT_EQ(u["size"].num(), static_cast<int64_t>(25 * kMiB));
  EXPECT_EQ(u["width"].num(), 4000);
  EXPECT_EQ(u["height"].num(), 3000);

  uint64_t after = 0;
  for (pid_t w : stack().FcgiWorkers()) after = std::max(after, PeakRss(w));
  std::printf("25 MiB upload through nginx: %.2f s (%.1f MiB/s); worker peak RSS (VmHWM) %.1f MiB before, "
              "%.1f MiB after\n",
              seconds, 25 / seconds, before / 1048576.0, after / 1048576.0);
  ASSERT_GT(after, 0u);
  // A worker that read the body would hold 25 MiB at least; one that reads
  // 256 KiB of it grows by about that. ASan's shadow memory and quarantine
  // make RSS no measure of our heap, so the bound is for plain builds.
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(after, before + 4 * kMiB) << "a worker's peak RSS grew by more than 4 MiB";
  EXPECT_LT(after, 20 * kMiB);
#endif

  // The bytes come back exactly, and the spool directory is left empty.
  Response got = alice->Get(UploadPath(u));
  ASSERT_EQ(got.status, 200) << got.Describe();
  EXPECT_EQ(got.body.size(), body.size());
  EXPECT_TRUE(got.body == body) << "the downloaded bytes differ";
  EXPECT_TRUE(SpoolEmpties());
  EXPECT_EQ(ListDir(FilesDir()).size(), 1u);
}

TEST_F(UploadsTest, TooLargeIs413JsonAndNothingIsKept) {
  User alice = Register("alice");
  Response r = Upload(alice, std::string(25 * kMiB + 1, 'x'), "?name=big.bin");
  EXPECT_EQ(r.status, 413) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "upload_too_large") << r.body;
  EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos);
  ExpectNginxsOwnHeaders(r.headers, "nginx's 413 upload_too_large");
  EXPECT_TRUE(ListDir(FilesDir()).empty());
  EXPECT_TRUE(SpoolEmpties());
  ExpectHealthy();
}

TEST_F(UploadsTest, TheTypeComesFromTheBytesNotFromTheHeader) {
  User alice = Register("alice");
  // A GIF declared as anything is a GIF, with its size.
  Json gif = Uploaded(alice, Gif(320, 200), "?name=anim.gif", "text/html");
  EXPECT_EQ(gif["mime"].str(), "image/gif");
  EXPECT_EQ(gif["width"].num(), 320);
  EXPECT_EQ(gif["height"].num(), 200);
  // HTML declared as HTML is stored as bytes, served as a download.
  Json html = Uploaded(alice, "<html><script>alert(1)</script></html>", "?name=page.html", "text/html");
  EXPECT_EQ(html["mime"].str(), "application/octet-stream");
  EXPECT_FALSE(html.has("width"));
  Response got = alice->Get(UploadPath(html));
  ASSERT_EQ(got.status, 200) << got.Describe();
  EXPECT_EQ(got.Header("content-type"), "application/octet-stream");
  EXPECT_EQ(got.Header("content-disposition").rfind("attachment;", 0), 0u) << got.Header("content-disposition");
  EXPECT_EQ(got.Header("x-content-type-options"), "nosniff");
  // A PDF is recognised by its magic, still an attachment.
  Json pdf = Uploaded(alice, "%PDF-1.7\n%...", "?name=paper.pdf", "application/octet-stream");
  EXPECT_EQ(pdf["mime"].str(), "application/pdf");

  // Text that claims to be an image: refused.
  Response fake = Upload(alice, "just some text, honestly", "?name=x.png", "image/png");
  EXPECT_EQ(fake.status, 415) << fake.Describe();
  EXPECT_EQ(fake.ErrorCode(), "unsupported_image");
  // An image's magic with a damaged header: refused whatever it is declared as.
  Response damaged = Upload(alice, std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16), "?name=x.png");
  EXPECT_EQ(damaged.status, 415) << damaged.Describe();
  EXPECT_EQ(damaged.ErrorCode(), "invalid_image");
  Response zero = Upload(alice, Png(0, 10), "?name=zero.png");
  EXPECT_EQ(zero.ErrorCode(), "invalid_image") << zero.Describe();
  // A JPEG with 320 KiB of metadata (five 64 KiB APP1 segments) before its
  // frame header, past the 256 KiB the worker reads first: refused as
  // damaged once, now found in the file.
  std::string jpeg("\xff\xd8", 2);
  for (int i = 0; i < 5; ++i) jpeg += std::string("\xff\xe1\xff\xff", 4) + std::string(65533, 'X');
  jpeg += std::string("\xff\xc0\x00\x11\x08\x01\xe0\x02\x80\x03", 10) + std::string(14, '\0') +
          std::string("\xff\xd9", 2);
  Json big = Uploaded(alice, jpeg, "?name=xmp.jpg", "image/jpeg");
  EXPECT_EQ(big["mime"].str(), "image/jpeg");
  EXPECT_EQ(big["width"].num(), 640);
  EXPECT_EQ(big["height"].num(), 480);
  EXPECT_TRUE(SpoolEmpties());
}

TEST_F(UploadsTest, BadNamesAndEmptyBodiesAre400) {
  User alice = Register("alice");
  const std::string png = Png(2, 2);
  for (const char* query : {"?name=a/b.png", "?name=..", "?name=a%5Cb.png", "?name=evil%E2%80%AEgnp.exe",
                            "?name=tab%09.png", "?name=", "?name=%FF.png"}) {
    Response r = Upload(alice, png, query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.Describe();
    EXPECT_TRUE(r.ErrorCode() == "invalid_field" || r.ErrorCode() == "invalid_utf8") << query << ": " << r.body;
  }
  Response longer = Upload(alice, png, "?name=" + std::string(201, 'a'));
  EXPECT_EQ(longer.status, 400) << longer.Describe();
  Response empty = Upload(alice, "", "?name=empty.txt");
  EXPECT_EQ(empty.status, 400) << empty.Describe();
  EXPECT_EQ(empty.ErrorCode(), "empty_upload");
  // Unicode names are fine, and come back in the download's file name.
  Json ok = Uploaded(alice, png, "?name=%C3%A9t%C3%A9%20photo.png");
  EXPECT_EQ(ok["name"].str(), "\xc3\xa9t\xc3\xa9 photo.png");
  Response got = alice->Get(UploadPath(ok));
  EXPECT_EQ(got.Header("content-disposition"),
            "inline; filename=\"__t__ photo.png\"; filename*=UTF-8''%C3%A9t%C3%A9%20photo.png");
  // Signed out: 401, and nothing spooled is left behind.
  Response anon = NewClient(Client::Cookies::kOff)->Post("/api/uploads?name=a.png", png,
                                                         {"Content-Type: image/png"});
  EXPECT_EQ(anon.status, 401) << anon.Describe();
  EXPECT_TRUE(SpoolEmpties());
}

TEST_F(UploadsTest, DownloadsAreForTheUploaderAndTheRoomOnly) {
  User alice = Register("alice");
  User bob = Register("bob");
  User carol = Register("carol");
  const std::string png = Png(640, 480, 5000);
  Json u = Uploaded(alice, png);

  // Before it is posted: alice only.
  Response mine = alice->Get(UploadPath(u));
  ASSERT_EQ(mine.status, 200) << mine.Describe();
  EXPECT_TRUE(mine.body == png);
  EXPECT_EQ(mine.Header("content-type"), "image/png");
  EXPECT_EQ(mine.Header("content-disposition").rfind("inline;", 0), 0u) << mine.Header("content-disposition");
  EXPECT_EQ(mine.Header("x-content-type-options"), "nosniff");
  EXPECT_NE(mine.Header("content-security-policy").find("img-src 'self'"), std::string::npos);
  EXPECT_EQ(bob->Get(UploadPath(u)).status, 404);
  EXPECT_EQ(bob->Get(UploadPath(u)).ErrorCode(), "upload_not_found");
  EXPECT_EQ(bob->Get("/api/uploads/12345").ErrorCode(), "upload_not_found");

  // Posted in a DM with bob: bob may read it, carol may not.
  Response dm = alice->Post("/api/dm", "{\"username\":" + Quote(bob.name) + "}");
  ASSERT_TRUE(dm.status == 201 || dm.status == 200) << dm.Describe();
  int64_t room = dm.json()["room"]["id"].num();
  Response sent = SendWith(alice, room, "", "[" + std::to_string(u["id"].num()) + "]");
  ASSERT_EQ(sent.status, 201) << sent.Describe();
  Response theirs = bob->Get(UploadPath(u));
  EXPECT_EQ(theirs.status, 200) << theirs.Describe();
  EXPECT_TRUE(theirs.body == png);
  EXPECT_EQ(carol->Get(UploadPath(u)).status, 404);
  // Signed out: 401; the internal location is not reachable from outside.
  EXPECT_EQ(NewClient(Client::Cookies::kOff)->Get(UploadPath(u)).status, 401);
  Response direct = alice->Get("/_parley_uploads/" + std::to_string(u["id"].num()));
  EXPECT_EQ(direct.status, 404) << direct.Describe();
  EXPECT_EQ(direct.body.find("\x89PNG"), std::string::npos);

  // Deleting the message takes it away from everyone, its uploader too
  // (UploadLifecycleTest follows the file).
  int64_t message = sent.json()["message"]["id"].num();
  ASSERT_EQ(alice->Delete(MessagePath(message)).status, 204);
  EXPECT_EQ(bob->Get(UploadPath(u)).status, 404);
  EXPECT_EQ(alice->Get(UploadPath(u)).status, 404);
}

// A download may be kept by the browser, never shared, and is checked
// again at each use: unchanged, nginx answers 304 without the bytes; taken
// away (its message deleted), the same conditional request is refused.
TEST_F(UploadsTest, ADownloadIsKeptButCheckedAgainAtEachUse) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);  // bob's too, as everyone's
  const std::string png = Png(64, 64, 3000);
  Json u = Uploaded(alice, png);
  Response sent = SendWith(alice, room, "", "[" + std::to_string(u["id"].num()) + "]");
  ASSERT_EQ(sent.status, 201) << sent.Describe();

  Response first = bob->Get(UploadPath(u));
  ASSERT_EQ(first.status, 200) << first.Describe();
  EXPECT_TRUE(first.body == png);
  EXPECT_EQ(first.Headers("cache-control"), std::vector<std::string>{"private, no-cache"});
  const std::string etag = first.Header("etag");
  ASSERT_FALSE(etag.empty()) << first.Describe();

  Response again = bob->Get(UploadPath(u), {"If-None-Match: " + etag});
  EXPECT_EQ(again.status, 304) << again.Describe();
  EXPECT_TRUE(again.body.empty());
  Response changed = bob->Get(UploadPath(u), {"If-None-Match: \"not-it\""});
  EXPECT_EQ(changed.status, 200) << changed.Describe();
  EXPECT_TRUE(changed.body == png);
  // Served as stored, whatever the client accepts: nginx compresses only
  // the API's JSON (nginx/parley.conf), not the files it hands out for it.
  bob->set_accept_gzip(true);
  Response asked = bob->Get(UploadPath(u));
  EXPECT_EQ(asked.status, 200) << asked.Describe();
  EXPECT_EQ(asked.Header("content-encoding"), "");
  EXPECT_TRUE(asked.body == png);
  bob->set_accept_gzip(false);

  ASSERT_EQ(alice->Delete(MessagePath(sent.json()["message"]["id"].num())).status, 204);
  Response gone = bob->Get(UploadPath(u), {"If-None-Match: " + etag});
  EXPECT_EQ(gone.status, 404) << gone.Describe();
  EXPECT_EQ(gone.ErrorCode(), "upload_not_found");
  // Every other answer of the API stays unkept.
  EXPECT_EQ(bob->Get("/api/me").Headers("cache-control"), std::vector<std::string>{"no-store"});
}

TEST_F(UploadsTest, MessagesCarryAttachments) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "photos", "public");
  Join(bob, room);
  Json photo = Uploaded(alice, Png(800, 600), "?name=cat.png");
  Json doc = Uploaded(alice, "notes", "?name=notes.txt", "text/plain");
  std::string ids = "[" + std::to_string(photo["id"].num()) + "," + std::to_string(doc["id"].num()) + "]";
  Response sent = SendWith(alice, room, "", ids);
  ASSERT_EQ(sent.status, 201) << sent.Describe();
  Json m = sent.json()["message"];
  EXPECT_EQ(m["text"].str(), "");
  ASSERT_EQ(m["attachments"].size(), 2u) << sent.body;
  Json a = m["attachments"][size_t{0}];
  EXPECT_EQ(a["id"].num(), photo["id"].num());
  EXPECT_EQ(a["name"].str(), "cat.png");
  EXPECT_EQ(a["mime"].str(), "image/png");
  EXPECT_EQ(a["width"].num(), 800);
  EXPECT_EQ(a["height"].num(), 600);
  EXPECT_EQ(a["url"].str(), UploadPath(photo));
  EXPECT_EQ(m["attachments"][1]["name"].str(), "notes.txt");
  EXPECT_FALSE(m["attachments"][1].has("width"));

  // History shows them, in order, to the room.
  Response history = bob->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(history.status, 200) << history.Describe();
  Json last = history.json()["messages"][history.json()["messages"].size() - 1];
  ASSERT_EQ(last["attachments"].size(), 2u) << history.body;
  EXPECT_EQ(last["attachments"][size_t{0}]["id"].num(), photo["id"].num());
  EXPECT_EQ(last["attachments"][1]["id"].num(), doc["id"].num());
  EXPECT_EQ(bob->Get(UploadPath(doc)).status, 200);

  // An edit keeps them.
  Response edited = alice->Patch(MessagePath(m["id"].num()), "{\"text\":\"a cat\"}");
  ASSERT_EQ(edited.status, 200) << edited.Describe();
  EXPECT_EQ(edited.json()["message"]["attachments"].size(), 2u) << edited.body;
}

TEST_F(UploadsTest, AttachmentsMustBeOwnUploadsAndFew) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "photos", "public");
  Join(bob, room);
  Json bobs = Uploaded(bob, Png(10, 10));
  Json mine = Uploaded(alice, Png(10, 10));
  const std::string own = std::to_string(mine["id"].num());

  Response stolen = SendWith(alice, room, "look", "[" + std::to_string(bobs["id"].num()) + "]");
  EXPECT_EQ(stolen.status, 400) << stolen.Describe();
  EXPECT_EQ(stolen.ErrorCode(), "invalid_attachment");
  EXPECT_EQ(alice->Get(UploadPath(bobs)).status, 404) << "a refused send grants nothing";
  Response unknown = SendWith(alice, room, "look", "[987654321]");
  EXPECT_EQ(unknown.ErrorCode(), "invalid_attachment") << unknown.Describe();

  std::string eleven = "[" + own;
  for (int i = 0; i < 10; ++i) eleven += "," + std::to_string(1000 + i);
  eleven += "]";
  for (const std::string& bad : {eleven, std::string("[" + own + "," + own + "]"), std::string("\"" + own + "\""),
                                 std::string("[\"" + own + "\"]"), std::string("[0]"), std::string("[1.5]")}) {
    Response r = SendWith(alice, room, "look", bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << bad << ": " << r.body;
  }
  // Empty text needs an attachment.
  Response empty = SendWith(alice, room, "", "[]");
  EXPECT_EQ(empty.status, 400) << empty.Describe();
  EXPECT_EQ(SendWith(alice, room, "", "[" + own + "]").status, 201);
}

TEST_F(UploadsTest, OtherRoutesKeepThe16KiBLimit) {
  User alice = Register("alice");
  int64_t room = General(alice);
  const std::string big = "{\"text\":\"" + std::string(20 * 1024, 'a') + "\"}";
  Response send = alice->Post(RoomPath(room, "/messages"), big);
  EXPECT_EQ(send.status, 413) << send.Describe();
  EXPECT_EQ(send.ErrorCode(), "body_too_large");
  ExpectNginxsOwnHeaders(send.headers, "nginx's 413 body_too_large");
  // Next to the upload location, but not it.
  for (const char* path : {"/api/uploads/1", "/api/uploads/", "/api/uploadsx", "/api/rooms"}) {
    Response r = alice->Post(path, std::string(20 * 1024, 'a'), {"Content-Type: application/octet-stream"});
    EXPECT_EQ(r.status, 413) << path << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "body_too_large") << path;
  }
}

// The lifecycle: parley-events collects unused uploads every second here.
class UploadLifecycleTest : public UploadsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.events_flags = {"--upload-sweep", "1"};
    return o;
  }
  // Waits (bounded) until the upload's file is gone from the uploads directory.
  bool FileGoes(const Json& upload, std::chrono::seconds timeout = std::chrono::seconds(15)) {
    const std::string name = std::to_string(upload["id"].num());
    for (auto until = Clock::now() + timeout; Clock::now() < until;) {
      std::vector<std::string> files = ListDir(FilesDir());
      if (std::find(files.begin(), files.end(), name) == files.end()) return true;
      usleep(100 * 1000);
    }
    return false;
  }
  bool HasFile(const Json& upload) {
    std::vector<std::string> files = ListDir(FilesDir());
    return std::find(files.begin(), files.end(), std::to_string(upload["id"].num())) != files.end();
  }
};

TEST_F(UploadLifecycleTest, ADeletedMessagesAttachmentIsNeverReachableAgainAndItsFileGoes) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "photos", "public");
  Join(bob, room);
  Json kept = Uploaded(alice, Png(10, 10, 2000), "?name=kept.png");
  Json gone = Uploaded(alice, Png(20, 20, 3000), "?name=gone.png");
  Json shared = Uploaded(alice, Png(30, 30, 1000), "?name=shared.png");
  const std::string gone_ids = "[" + std::to_string(gone["id"].num()) + "," + std::to_string(shared["id"].num()) + "]";
  Response first = SendWith(alice, room, "two photos", gone_ids);
  ASSERT_EQ(first.status, 201) << first.Describe();
  Response second = SendWith(alice, room, "", "[" + std::to_string(shared["id"].num()) + "]");
  ASSERT_EQ(second.status, 201) << second.Describe();
  Response third = SendWith(alice, room, "", "[" + std::to_string(kept["id"].num()) + "]");
  ASSERT_EQ(third.status, 201) << third.Describe();
  ASSERT_EQ(bob->Get(UploadPath(gone)).status, 200);
  ASSERT_TRUE(HasFile(gone));

  ASSERT_EQ(alice->Delete(MessagePath(first.json()["message"]["id"].num())).status, 204);
  // At once, for everyone: no window where the file is still served.
  for (User* u : {&alice, &bob}) {
    Response r = (*u)->Get(UploadPath(gone));
    EXPECT_EQ(r.status, 404) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "upload_not_found");
    EXPECT_EQ(r.body.find("\x89PNG"), std::string::npos);
  }
  EXPECT_TRUE(FileGoes(gone)) << "the sweep removes the file";
  Response reattach = SendWith(alice, room, "again", "[" + std::to_string(gone["id"].num()) + "]");
  EXPECT_EQ(reattach.status, 400) << reattach.Describe();
  EXPECT_EQ(reattach.ErrorCode(), "invalid_attachment");
  EXPECT_EQ(bob->Get(UploadPath(gone)).status, 404) << "and never reachable again";
  // Another message still carries `shared`; `kept` was never touched.
  Response still = bob->Get(UploadPath(shared));
  EXPECT_EQ(still.status, 200) << still.Describe();
  EXPECT_TRUE(still.body == Png(30, 30, 1000));
  EXPECT_TRUE(HasFile(shared));
  EXPECT_EQ(bob->Get(UploadPath(kept)).status, 200);
}

// Uploads never attached expire after --upload-keep (2 s here).
class UploadExpiryTest : public UploadLifecycleTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.events_flags = {"--upload-sweep", "1", "--upload-keep", "2"};
    return o;
  }
};

TEST_F(UploadExpiryTest, AnUploadNeverAttachedIsRemovedRowAndFile) {
  User alice = Register("alice");
  Json loose = Uploaded(alice, Png(10, 10, 2000));
  EXPECT_TRUE(FileGoes(loose)) << "removed after --upload-keep";
  Response r = alice->Get(UploadPath(loose));
  EXPECT_EQ(r.status, 404) << r.Describe();
  Response attach = SendWith(alice, General(alice), "late", "[" + std::to_string(loose["id"].num()) + "]");
  EXPECT_EQ(attach.status, 400) << attach.Describe();
  EXPECT_EQ(attach.ErrorCode(), "invalid_attachment");
}

class UploadQuotaTest : public UploadsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.fcgi_env = {"PARLEY_UPLOAD_QUOTA=100k"};
    return o;
  }
};

TEST_F(UploadQuotaTest, UploadsPastTheQuotaAre413QuotaExceeded) {
  User alice = Register("alice");
  User bob = Register("bob");
  Uploaded(alice, Png(10, 10, 60 * 1024));
  Response second = Upload(alice, Png(10, 10, 60 * 1024));
  EXPECT_EQ(second.status, 413) << second.Describe();
  EXPECT_EQ(second.ErrorCode(), "quota_exceeded");
  EXPECT_EQ(ListDir(FilesDir()).size(), 1u) << "a refused upload leaves no file";
  EXPECT_TRUE(SpoolEmpties());
  // What still fits is accepted; the quota is per user.
  EXPECT_EQ(Upload(alice, Png(10, 10, 30 * 1024)).status, 201);
  EXPECT_EQ(Upload(bob, Png(10, 10, 60 * 1024)).status, 201);
}

class UploadRateTest : public UploadsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;  // PARLEY_LIMITS=off would turn every bucket off
    o.fcgi_env = {"PARLEY_WRITE_RATES=upload=0.01/2"};
    return o;
  }
};

TEST_F(UploadRateTest, TheUploadBucketThrottles) {
  User alice = Register("alice");
  EXPECT_EQ(Upload(alice, Png(10, 10)).status, 201);
  EXPECT_EQ(Upload(alice, Png(10, 10)).status, 201);
  Response third = Upload(alice, Png(10, 10));
  EXPECT_EQ(third.status, 429) << third.Describe();
  EXPECT_EQ(third.ErrorCode(), "throttled");
  EXPECT_FALSE(third.Header("retry-after").empty());
  EXPECT_TRUE(SpoolEmpties());
}

// The disk the database is on: uploads once filled it, each user far below
// their quota, and from then on every login, registration and send was 503
// storage_full for everybody. Now an upload that would leave less than the
// reserve free (fcgi/uploads_dir.h: 10 % of this 64 MiB tmpfs) is refused,
// nothing of it kept, and everyone else writes on.
class UploadReserveTest : public UploadsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.disk_bytes = 64 << 20;
    return o;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "a tmpfs mount needs root";
    UploadsTest::SetUp();
  }
  uint64_t FreeBytes() {
    struct statvfs v {};
    if (statvfs(stack().dir().c_str(), &v) != 0) return 0;
    return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  }
};

TEST_F(UploadReserveTest, UploadsStopShortOfAFullDiskAndEveryoneWritesOn) {
  User alice = Register("alice");
  const int64_t room = General(alice);
  const std::string blob(4 * kMiB, 'x');
  int stored = 0;
  Response refused;
  for (int i = 0; i < 30; ++i) {
    Response r = Upload(alice, blob, "?name=f" + std::to_string(i) + ".bin");
    if (r.status != 201) {
      refused = r;
      break;
    }
    ++stored;
  }
  EXPECT_GE(stored, 5) << "the disk took a few";
  ASSERT_EQ(refused.status, 503) << "after " << stored << ": " << refused.Describe();
  EXPECT_EQ(refused.ErrorCode(), "storage_full") << refused.body;
  EXPECT_EQ(refused.Header("retry-after"), "10");
  EXPECT_EQ(ListDir(FilesDir()).size(), static_cast<size_t>(stored)) << "the refused one left no file";
  EXPECT_TRUE(SpoolEmpties());
  // Refused by the pool short of the reserve, not by a full disk. nginx
  // may unlink the refused body a moment before it closes it (the blocks
  // go at the close): waited for, bounded.
  for (auto until = Clock::now() + std::chrono::seconds(5); FreeBytes() < 4 * kMiB && Clock::now() < until;) {
    usleep(20 * 1000);
  }
  EXPECT_GE(FreeBytes(), 4 * kMiB) << "the reserve is left";
  // Everyone can still sign up, sign in and send.
  User bob = Register("bob");
  Response sent = bob->Post(RoomPath(room, "/messages"), "{\"text\":\"still here\"}");
  EXPECT_EQ(sent.status, 201) << sent.Describe();
  Response login = NewClient(Client::Cookies::kOff)->Post(
      "/api/login", "{\"username\":" + Quote(alice.name) + ",\"password\":" + Quote(kPassword) + "}");
  EXPECT_EQ(login.status, 200) << login.Describe();
  ExpectHealthy();
}

// nginx spools an upload's body to disk before the pool sees it; a body
// trickled in keeps its spool file. So the credential is checked before a
// byte of the body is read (auth_request), and one session has at most 10
// uploads in flight (limit_conn): 35 parked 10 MiB uploads of one session
// once held 342 MB of the database's disk.
class UploadSpoolTest : public UploadsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;  // limit_conn is one of nginx's limits
    return o;
  }
  // Sends the headers of a 10 MiB upload and `sent` bytes of its body,
  // from 127.0.0.1 or another loopback address (`from`).
  RawSocket Park(const std::string& auth, size_t sent, const char* from = nullptr) {
    std::string error;
    RawSocket s = from ? ConnectFrom(from) : RawSocket::Connect(stack().port(), &error);
    EXPECT_TRUE(s.valid()) << error;
    const std::string head = "POST /api/uploads?name=p.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                             "Content-Type: application/octet-stream\r\nContent-Length: " +
                             std::to_string(10 * kMiB) + "\r\n\r\n";
    EXPECT_TRUE(s.Send(head + std::string(sent, 'x'), std::chrono::milliseconds(5000)));
    return s;
  }
  // A connection to nginx from `source`, a loopback address other than
  // 127.0.0.1 (all of 127/8 is local on Linux): another client address.
  RawSocket ConnectFrom(const char* source) {
    RawSocket s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, source, &a.sin_addr);
    EXPECT_EQ(bind(s.fd(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    a.sin_port = htons(static_cast<uint16_t>(stack().port()));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(connect(s.fd(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    return s;
  }
  // Waits (bounded) until the spool holds `n` files; how many it holds.
  size_t SpoolHolds(size_t n) {
    for (auto until = Clock::now() + std::chrono::seconds(5);
         ListDir(SpoolDir()).size() < n && Clock::now() < until;) {
      usleep(20 * 1000);
    }
    return ListDir(SpoolDir()).size();
  }
  // A new session of `u` (a login), its Authorization header.
  std::string NewSession(const User& u) {
    Response r = NewClient(Client::Cookies::kOff)->Post(
        "/api/login", "{\"username\":" + Quote(u.name) + ",\"password\":" + Quote(kPassword) + "}");
    if (r.status != 200) throw SetupError("login: " + r.Describe());
    return "Authorization: Bearer " + r.json()["token"].str() + "\r\n";
  }
};

TEST_F(UploadSpoolTest, NoBodyIsSpooledWithoutAGoodCredentialNorPastTenAtOnce) {
  User alice = Register("alice");
  // No credential, or a junk one: refused at once, the body never read.
  for (const std::string& auth : {std::string(), std::string("Authorization: Bearer junk\r\n")}) {
    RawSocket s = Park(auth, 1000);
    RawResponse r = ReadResponse(s, std::chrono::milliseconds(5000));
    EXPECT_EQ(r.status, 401) << r.Describe();
    EXPECT_EQ(r.json()["error"]["code"].str(), "not_signed_in") << r.body;
    ExpectNginxsOwnHeaders(r.headers, "nginx's 401 before an upload's body");
  }
  EXPECT_TRUE(SpoolEmpties());

  // Ten held uploads of one session; the eleventh is refused before its body.
  const std::string bearer = "Authorization: Bearer " + alice.token + "\r\n";
  std::vector<RawSocket> held;
  for (int i = 0; i < 10; ++i) held.push_back(Park(bearer, 300 * 1024));  // past the 256 KiB buffer
  for (auto until = Clock::now() + std::chrono::seconds(5);
       ListDir(SpoolDir()).size() < 10 && Clock::now() < until;) {
    usleep(20 * 1000);
  }
  EXPECT_EQ(ListDir(SpoolDir()).size(), 10u);
  RawSocket eleventh = Park(bearer, 1000);
  RawResponse refused = ReadResponse(eleventh, std::chrono::milliseconds(5000));
  EXPECT_EQ(refused.status, 429) << refused.Describe();
  EXPECT_EQ(refused.json()["error"]["code"].str(), "throttled") << refused.body;
  ExpectNginxsOwnHeaders(refused.headers, "nginx's 429 of uploads in flight");
  EXPECT_EQ(ListDir(SpoolDir()).size(), 10u);
  // Another user is not held back by alice's.
  User bob = Register("bob");
  EXPECT_EQ(Upload(bob, Png(10, 10)).status, 201);
  held.clear();  // the parked uploads go, and their spool files with them
  EXPECT_TRUE(SpoolEmpties());
  EXPECT_EQ(Upload(alice, Png(10, 10)).status, 201);
}

// limit_conn runs before auth_request, so it cannot key on the user, and
// an account may hold 100 sessions: 3 logins of one user once parked 30
// uploads, each held for weeks by a byte every 9 s. One address has at most
// 20 in flight, whatever its sessions; another address is not held back.
TEST_F(UploadSpoolTest, OneAddressParksAtMostTwentyWhateverItsSessions) {
  User alice = Register("alice");
  std::vector<std::string> sessions = {"Authorization: Bearer " + alice.token + "\r\n", NewSession(alice),
                                       NewSession(alice)};
  std::vector<RawSocket> held;
  for (int i = 0; i < 20; ++i) held.push_back(Park(sessions[i / 10], 300 * 1024));
  EXPECT_EQ(SpoolHolds(20), 20u);
  RawSocket third = Park(sessions[2], 1000);
  RawResponse refused = ReadResponse(third, std::chrono::milliseconds(5000));
  EXPECT_EQ(refused.status, 429) << "a third session of the same address: " << refused.Describe();
  EXPECT_EQ(refused.json()["error"]["code"].str(), "throttled") << refused.body;
  EXPECT_EQ(ListDir(SpoolDir()).size(), 20u);
  // The bound is per address, not site-wide.
  RawSocket elsewhere = Park(sessions[2], 300 * 1024, "127.0.0.2");
  EXPECT_EQ(SpoolHolds(21), 21u) << "another address may upload";
  held.clear();
  elsewhere.Close();
  EXPECT_TRUE(SpoolEmpties());
}

}  // namespace
}  // namespace parley::e2e
