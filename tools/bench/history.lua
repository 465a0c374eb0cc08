-- wrk script: authenticated history reads (the latest 50 messages of
-- PARLEY_ROOM) through nginx -> parley-fcgi -> SQLite.
dofile("tools/bench/common.lua")

function init(args)
  non2xx = 0
  wrk.method = "GET"
  wrk.path = "/api/rooms/" .. room .. "/messages?limit=50"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function response(status, headers, body) count_status(status, 200) end
