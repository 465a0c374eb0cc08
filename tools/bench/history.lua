-- wrk script: authenticated history reads (the latest 50 messages of
-- PARLEY_ROOM) through nginx -> parley-fcgi -> SQLite.
local tokens = {}
for t in string.gmatch(os.getenv("PARLEY_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local room = os.getenv("PARLEY_ROOM") or "1"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("token", tokens[(counter - 1) % #tokens + 1])
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  wrk.method = "GET"
  wrk.path = "/api/rooms/" .. room .. "/messages?limit=50"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function response(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
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
