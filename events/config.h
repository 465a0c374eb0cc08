// Settings of parley-events, from flags with environment defaults.
#pragma once

#include <cstdint>
#include <string>

#include "schema/key_expiry.h"
#include "schema/status.h"

namespace parley::events {

struct Config {
  std::string db;            // PARLEY_DB: an SQLite path or a postgresql:// URL (schema/backend)
  std::string data_dir;      // uploads/ under it (the uploads' sweep)
  // This daemon's name among several on PostgreSQL (its presence rows);
  // default: host name and listening socket.
  std::string name;
  std::string listen_path;   // HTTP over a unix socket or TCP (schema/listen_address.h) for nginx
  std::string notify_path;   // unix datagram socket parley-fcgi wakes us on
  std::string log_file;      // empty: stderr only
  int heartbeat_s = 15;
  int stream_lifetime_s = 1800;       // streams are closed after this; clients resume
  int poll_default_s = 25;
  int poll_max_s = 55;
  int max_connections = 30000;
  size_t output_cap = 1 << 20;        // bytes queued to one client before it is cut
  // Bytes queued to all clients together: past it the slowest are cut
  // first, so a crowd of slow readers cannot grow the daemon without bound.
  size_t output_budget = size_t{256} << 20;
  int max_user_connections = 32;      // per user id, after authentication
  int presence_grace_ms = 5000;       // a reload must not flap presence
  // Presence is pushed only through rooms with at most this many connected
  // members: in a room of thousands, every arrival would be an O(n) fan-out
  // and a reconnect storm O(n^2). Larger rooms show "online" through the
  // members API instead.
  int presence_room_limit = 100;
  int data_version_ms = 250;          // safety-net poll of PRAGMA data_version
  int revoke_check_s = 3;             // sessions re-checked this often
  // Pages (of up to 500 events) a user's polls and resuming streams may read from old cursors
  // per second, twice that at once; more wait for their turn (pacer.h).
  // 0 turns pacing off (to measure what it saves).
  int catchup_pages_per_s = 4;
  // The same, per client address (pacer.h says why both): -1 is four
  // users' worth, 0 paces by user only.
  int catchup_address_pages_per_s = -1;
  int typing_merge_ms = 2000;         // one typing fan-out per user and room in this window
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  int64_t retention_per_room = 100000;
  // A send's client_id dedupes its retries this long (schema/key_expiry.h);
  // nginx's replay keys, an hour.
  int64_t client_key_keep_ms = KeyExpiry::kClientKeepMs;
  // Uploads (schema/store_uploads.cc): one never attached to a message is
  // removed, row and file, after upload_keep_ms; every upload_sweep_s a
  // bounded step removes those and the files of deleted messages' uploads.
  int64_t upload_keep_ms = 24LL * 3600 * 1000;
  int upload_sweep_s = 60;
};

// Parses argv (flags override PARLEY_* environment variables).
Result<Config> ParseConfig(int argc, char** argv);
const char* Usage();

}  // namespace parley::events
