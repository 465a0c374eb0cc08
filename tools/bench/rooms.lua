-- wrk script: the room list through nginx. PARLEY_PATH is the request path
-- ("/api/rooms?limit=50": the first page by activity; "/api/rooms": the
-- whole list as before issue 12).
dofile("tools/bench/common.lua")

function init(args)
  non2xx = 0
  wrk.method = "GET"
  wrk.path = os.getenv("PARLEY_PATH") or "/api/rooms?limit=50"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function response(status, headers, body) count_status(status, 200) end
