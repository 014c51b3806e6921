-- GET /tasks/{id} for random existing ids, read from BENCH_IDS (one per line).
local ids = {}
function init(args)
  for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
  math.randomseed(os.time())
end
function request()
  return wrk.format("GET", "/tasks/" .. ids[math.random(#ids)])
end
