-- wrk script: authenticated sends through nginx -> parley-fcgi -> SQLite.
-- Each wrk thread sends as its own user (tokens from PARLEY_TOKENS, comma
-- separated) to PARLEY_ROOM, every request with a fresh client_id, so each
-- one is a full send: auth, validation, idempotency lookup, event + message rows.
dofile("tools/bench/common.lua")

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
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body) count_status(status, 201) end
