-- A steady mix: reads of single tasks and pages, creates and changes.
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
  local pick = math.random(10)
  local id = ids[math.random(#ids)]
  if pick <= 5 then return wrk.format("GET", "/tasks/" .. id) end
  if pick <= 7 then return wrk.format("GET", "/tasks?limit=20") end
  if pick <= 8 then return wrk.format("POST", "/tasks", json, '{"title":"soak"}') end
  return wrk.format("PATCH", "/tasks/" .. id, json, '{"status":"' .. statuses[math.random(3)] .. '"}')
end
