-- wrk script of the NodeBird load test.
--
--   wrk ... -s loadtest.lua URL -- METHOD PATH KIND FILE THREADS SIZE
--
-- KIND says what FILE holds and how each request is built:
--   "requests": whole HTTP requests, each SIZE bytes long, back to back
--     (the Go command writes a fresh sample of them for each run). Of
--     THREADS threads, thread i sends the i-th share of them in order, so
--     that no request is sent twice in a run while the file lasts.
--   "token": tokens, one a line; each is sent as "Authorization: Bearer
--     LINE" to METHOD PATH. Every thread cycles over all of them from its
--     own offset.
--   "none": FILE is ignored; the bare request METHOD PATH is sent.
-- Every request is built in init, before the thread starts loading.
-- done prints two machine-readable lines that the Go command parses: the
-- summary, and the latency distribution as quantiles.

local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests = {}
local next_index = 1

-- share cuts this thread's share out of a file of requests of size bytes
-- each: only slicing, the cheapest way LuaJIT makes the strings.
local function share(file, count, size)
  local f = assert(io.open(file, "rb"))
  local data = f:read("*a")
  f:close()
  assert(size > 0 and #data % size == 0, file .. ": not a whole number of requests")
  local total = #data / size
  local first, last = math.floor(id * total / count), math.floor((id + 1) * total / count) - 1
  for i = first, last do
    requests[#requests + 1] = data:sub(i * size + 1, (i + 1) * size)
  end
  assert(#requests > 0, file .. ": fewer requests than threads")
end

function init(args)
  local method, path, kind, file = args[1], args[2], args[3], args[4]
  if kind == "none" then
    requests[1] = wrk.format(method, path)
  elseif kind == "requests" then
    share(file, tonumber(args[5]), tonumber(args[6]))
  else
    for line in io.lines(file) do
      requests[#requests + 1] = wrk.format(method, path,
        { ["Authorization"] = "Bearer " .. line })
    end
    next_index = (id * 7919) % #requests + 1
  end
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LOADTEST requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
  -- The latency at every whole percentile and every hundredth from 90 on:
  -- enough to merge the runs of several rounds into one distribution.
  local q = {}
  for p = 1, 89 do
    q[#q + 1] = string.format("%d:%d", p * 100, latency:percentile(p))
  end
  for p = 9000, 9999 do
    q[#q + 1] = string.format("%d:%d", p, latency:percentile(p / 100))
  end
  io.write("LOADTEST_QUANTILES " .. table.concat(q, " ") .. "\n")
end
