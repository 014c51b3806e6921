-- A steady mix: reads of single tasks and pages, creates and changes.
local tasks = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "tasks.lua")
local statuses = { "pending", "in_progress", "completed" }
local ids, json = {}, {}
function init(args)
  ids, json = tasks.ids(), tasks.json_headers()
  math.randomseed(os.time())
end
function request()
  local pick = math.random(10)
  local id = ids[math.random(#ids)]
  if pick <= 5 then return wrk.format("GET", "/tasks/" .. id) end
  if pick <= 7 then return wrk.format("GET", "/tasks?limit=20") end
  if pick <= 8 then return wrk.format("POST", "/tasks", json, '{"title":"soak"}') end
  return wrk.format("PATCH", "/tasks/" .. id, json, '{"status":"' .. statuses[math.random(3)] .. '"}')
end
