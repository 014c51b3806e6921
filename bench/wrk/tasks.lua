-- What the task scripts share: the ids in BENCH_IDS (one per line), and the
-- headers for a JSON body, which must repeat wrk.headers (-H): wrk.format uses
-- the headers it is given instead of them.
local tasks = {}

function tasks.ids()
  local ids = {}
  for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
  return ids
end

function tasks.json_headers()
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/json"
  return headers
end

return tasks
