-- wrk script: the room list through nginx. PARLEY_PATH is the request path
-- ("/api/rooms?limit=50": the first page by activity; "/api/rooms": the
-- whole list as before issue 12). PARLEY_DELAY_MS paces each connection:
-- that many milliseconds between its requests (a person, not a script).
dofile("tools/bench/common.lua")

function init(args)
  non2xx = 0
  wrk.method = "GET"
  wrk.path = os.getenv("PARLEY_PATH") or "/api/rooms?limit=50"
  wrk.headers["Authorization"] = "Bearer " .. token
end

local pause = tonumber(os.getenv("PARLEY_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end

function response(status, headers, body) count_status(status, 200) end
