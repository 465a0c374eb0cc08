-- wrk script: authenticated sends through nginx -> parley-fcgi -> SQLite.
-- Each wrk thread sends as its own user (tokens from PARLEY_TOKENS, comma
-- separated) to PARLEY_ROOM, every request with a fresh client_id, so each
-- one is a full send: auth, validation, idempotency lookup, event + message rows.
local tokens = {}
for t in string.gmatch(os.getenv("PARLEY_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local room = os.getenv("PARLEY_ROOM") or "1"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  thread:set("token", tokens[(counter - 1) % #tokens + 1])
  table.insert(threads, thread)
end

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

function response(status, headers, body)
  if status ~= 201 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"rps":%.0f,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, bad, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
