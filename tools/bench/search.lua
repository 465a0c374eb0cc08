-- wrk script: GET /api/search over the data tools/bench/conversations
-- wrote (texts of 8 words w0..w4999). PARLEY_QUERY picks the workload:
-- "word" (one word), "two" (two words, both required), "prefix" (w123*).
-- "sent": one of the numbers tools/bench/api's sends wrote (100-5,000; below
-- 100 would match the thread numbers too).
dofile("tools/bench/common.lua")
local kind = os.getenv("PARLEY_QUERY") or "word"

function init(args)
  non2xx = 0
  math.randomseed(id * 7919)
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local q
  if kind == "two" then
    q = "w" .. math.random(0, 4999) .. "+w" .. math.random(0, 4999)
  elseif kind == "sent" then
    q = tostring(math.random(100, 5000))
  elseif kind == "prefix" then
    q = "w" .. math.random(100, 499) .. "*"
  else
    q = "w" .. math.random(0, 4999)
  end
  return wrk.format("GET", "/api/search?limit=20&q=" .. q)
end

function response(status, headers, body) count_status(status, 200) end
