-- wrk script for the webhooks scenario (scripts/bench/webhooks_bench.py):
-- wrk.lua's request and report (BENCH_WRK_LUA names it), with each request's
-- path taken in turn from BENCH_PATHS_FILE (one path a line), so that the
-- posts spread over many chat sessions.

dofile(os.getenv("BENCH_WRK_LUA"))

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS_FILE")) do
  if line ~= "" then paths[#paths + 1] = line end
end
local i = 0

local threads = 0

function setup(thread)
  -- Each thread has its own Lua state: start them at different sessions.
  thread:set("offset", threads * 37)
  threads = threads + 1
end

function init(args)
  i = (offset or 0) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
