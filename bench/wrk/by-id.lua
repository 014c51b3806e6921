-- GET /tasks/{id} for random existing ids, read from BENCH_IDS (one per line).
local tasks = dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "tasks.lua")
local ids = {}
function init(args)
  ids = tasks.ids()
  math.randomseed(os.time())
end
function request()
  return wrk.format("GET", "/tasks/" .. ids[math.random(#ids)])
end
