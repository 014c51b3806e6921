-- A steady mix: reads of single tasks and pages, creates and changes.
local ids = {}
local statuses = { "pending", "in_progress", "completed" }
function init(args)
  for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
  math.randomseed(os.time())
end
function request()
  local pick = math.random(10)
  local id = ids[math.random(#ids)]
  if pick <= 5 then return wrk.format("GET", "/tasks/" .. id) end
  if pick <= 7 then return wrk.format("GET", "/tasks?limit=20") end
  local json = { ["Content-Type"] = "application/json" }
  if pick <= 8 then return wrk.format("POST", "/tasks", json, '{"title":"soak"}') end
  return wrk.format("PATCH", "/tasks/" .. id, json, '{"status":"' .. statuses[math.random(3)] .. '"}')
end
