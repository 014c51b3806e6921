-- A steady mix: reads of single tasks and pages, creates and changes.
local tasks = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "tasks.lua")
init = tasks.init
function request()
  local pick = math.random(10)
  if pick <= 5 then return tasks.get(tasks.random_id()) end
  if pick <= 7 then return wrk.format("GET", "/tasks?limit=20") end
  if pick <= 8 then return tasks.create('{"title":"soak"}') end
  return tasks.patch(tasks.random_id())
end
