-- wrk script: authenticated sends through nginx -> parley-fcgi -> SQLite.
-- Each wrk thread sends as its own user (tokens from PARLEY_TOKENS, comma
-- separated) to PARLEY_ROOM, every request with a fresh client_id, so each
-- one is a full send: auth, validation, idempotency lookup, event + message rows.
-- PARLEY_ROTATE_TOKENS=1: each request speaks as the next user of
-- PARLEY_TOKENS instead (each thread starting at its own), so many users
-- send, as in a deployment, not two.
dofile("tools/bench/common.lua")
local rotate = os.getenv("PARLEY_ROTATE_TOKENS") == "1" and #tokens > 0

function init(args)
  n = 0
  non2xx = 0
  wrk.method = "POST"
  wrk.path = "/api/rooms/" .. room .. "/messages"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  n = n + 1
  local body = string.format('{"text":"bench message %d from thread %d","client_id":"b%d-%d-%d"}',
                             n, id, id, os.time(), n)
  if rotate then
    wrk.headers["Authorization"] = "Bearer " .. tokens[(n + id) % #tokens + 1]
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body) count_status(status, 201) end
