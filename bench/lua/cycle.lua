-- POST prepared requests from BENCH_REQUESTS_FILE, one per line: "h1: v1|h2: v2<TAB>body".
-- Line i goes to thread (i mod BENCH_THREADS), so no two threads send the same line; a thread
-- that runs out starts over and counts it in "wrapped" (the harness reports it).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  thread:set("wrapped", 0)
  next_id = next_id + 1
  bench_track(thread)
end

function init(args)
  local threads = tonumber(os.getenv("BENCH_THREADS"))
  prepared = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS_FILE")) do
    if index % threads == id then
      local header_text, body = line:match("^([^\t]*)\t(.*)$")
      local headers = { ["Content-Type"] = "application/json" }
      for pair in header_text:gmatch("[^|]+") do
        local name, value = pair:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      table.insert(prepared, wrk.format("POST", nil, headers, body))
    end
    index = index + 1
  end
  position = 0
end

function request()
  position = position + 1
  if position > #prepared then
    position = 1
    wrapped = wrapped + 1
  end
  return prepared[position]
end
