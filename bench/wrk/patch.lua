-- PATCH /tasks/{id} on random existing ids, each time to a random status.
local ids = {}
local statuses = { "pending", "in_progress", "completed" }
function init(args)
  for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
  math.randomseed(os.time())
end
function request()
  local body = '{"status":"' .. statuses[math.random(3)] .. '"}'
  return wrk.format("PATCH", "/tasks/" .. ids[math.random(#ids)], { ["Content-Type"] = "application/json" }, body)
end
