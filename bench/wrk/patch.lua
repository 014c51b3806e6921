-- PATCH /tasks/{id} on random existing ids, each time to a random status.
local tasks = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "tasks.lua")
local statuses = { "pending", "in_progress", "completed" }
local ids, json = {}, {}
function init(args)
  ids, json = tasks.ids(), tasks.json_headers()
  math.randomseed(os.time())
end
function request()
  local body = '{"status":"' .. statuses[math.random(3)] .. '"}'
  return wrk.format("PATCH", "/tasks/" .. ids[math.random(#ids)], json, body)
end
