-- Counts answers by status, and those that are neither a success nor a
-- problem document, across wrk's threads; prints one line at the end:
--   statuses {"200":123,"503":4} not-problems 0
-- A script loads it with dofile and wires setup, response and done to it.
local statuses = {}
local threads = {}

function statuses.setup(thread)
  table.insert(threads, thread)
end

-- Globals of the thread, so that done() can read them with thread:get.
function statuses.init()
  counts = {}
  notProblems = 0
end

function statuses.response(status, headers)
  counts[status] = (counts[status] or 0) + 1
  if status >= 400 then
    local contentType = headers["Content-Type"] or headers["content-type"] or ""
    if not contentType:find("application/problem+json", 1, true) then notProblems = notProblems + 1 end
  end
end

function statuses.done()
  local total, bad = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do total[status] = (total[status] or 0) + n end
    bad = bad + thread:get("notProblems")
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%d":%d', status, n)) end
  io.write("statuses {" .. table.concat(parts, ",") .. "} not-problems " .. bad .. "\n")
end

return statuses
