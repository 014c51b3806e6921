-- What the task scripts share. A script sets `init = tasks.init`, then builds
-- its requests from these. JSON requests repeat wrk.headers (-H, the bearer
-- token): wrk.format uses the headers it is given instead of them.
local tasks = {}
local ids, json = {}, {}
local statuses = { "pending", "in_progress", "completed" }

function tasks.init(args)
  for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
  for name, value in pairs(wrk.headers) do json[name] = value end
  json["Content-Type"] = "application/json"
  math.randomseed(os.time())
end

-- One of the existing tasks in BENCH_IDS (one id per line).
function tasks.random_id()
  return ids[math.random(#ids)]
end

function tasks.get(id)
  return wrk.format("GET", "/tasks/" .. id)
end

function tasks.create(body)
  return wrk.format("POST", "/tasks", json, body)
end

-- Moves the task to a random status.
function tasks.patch(id)
  return wrk.format("PATCH", "/tasks/" .. id, json, '{"status":"' .. statuses[math.random(3)] .. '"}')
end

-- POST /graphql with this JSON body ({"query": ..., "variables": ...}).
function tasks.graphql(body)
  return wrk.format("POST", "/graphql", json, body)
end

return tasks
