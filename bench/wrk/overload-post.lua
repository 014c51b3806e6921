-- POST /tasks, counting answers by status (statuses.lua).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)")
local tasks = dofile(dir .. "tasks.lua")
local statuses = dofile(dir .. "statuses.lua")
function init(args)
  tasks.init(args)
  statuses.init()
end
function request()
  return tasks.create('{"title":"An overload task"}')
end
setup, response, done = statuses.setup, statuses.response, statuses.done
