-- Shared by send.lua and history.lua (wrk loads it with dofile from the
-- repository root, where tools/bench/api runs wrk): one bearer token per
-- wrk thread from PARLEY_TOKENS, non-2xx counting, and the JSON summary line.
-- Every token of PARLEY_TOKENS, in each thread's state too (send.lua
-- rotates through them).
tokens = {}
for t in string.gmatch(os.getenv("PARLEY_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
room = os.getenv("PARLEY_ROOM") or "1"
-- PARLEY_BENCH_GZIP=1 (tools/bench/api): ask for gzip, as browsers do.
if os.getenv("PARLEY_BENCH_GZIP") == "1" then wrk.headers["Accept-Encoding"] = "gzip" end
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  thread:set("token", tokens[(counter - 1) % #tokens + 1])
  table.insert(threads, thread)
end

-- expected: the status a successful request of this workload returns.
function count_status(status, expected)
  if status ~= expected then non2xx = non2xx + 1 end
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
