-- PATCH /tasks/{id} on random existing ids, each time to a random status.
local ids = {}
local statuses = { "pending", "in_progress", "completed" }
local json = {}
function init(args)
  for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
  math.randomseed(os.time())
  -- wrk.format uses the headers it is given instead of wrk.headers (-H).
  for name, value in pairs(wrk.headers) do json[name] = value end
  json["Content-Type"] = "application/json"
end
function request()
  local body = '{"status":"' .. statuses[math.random(3)] .. '"}'
  return wrk.format("PATCH", "/tasks/" .. ids[math.random(#ids)], json, body)
end
