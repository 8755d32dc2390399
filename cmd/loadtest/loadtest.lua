-- wrk script of the NodeBird load test.
--
--   wrk ... -s loadtest.lua URL -- METHOD PATH KIND FILE
--
-- KIND says what each line of FILE is: "secret" (sent as the JSON body
-- {"clientSecret": LINE}), "token" (sent as "Authorization: Bearer LINE")
-- or "none" (FILE is ignored; the bare request is sent). Every request is
-- built once in init; each thread then cycles over them from its own offset.
-- done prints two machine-readable lines that the Go command parses: the
-- summary, and the latency distribution as quantiles.

local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests = {}
local next_index = 1

function init(args)
  local method, path, kind, file = args[1], args[2], args[3], args[4]
  if kind == "none" then
    requests[1] = wrk.format(method, path)
  else
    for line in io.lines(file) do
      if kind == "secret" then
        requests[#requests + 1] = wrk.format(method, path,
          { ["Content-Type"] = "application/json" },
          '{"clientSecret":"' .. line .. '"}')
      else
        requests[#requests + 1] = wrk.format(method, path,
          { ["Authorization"] = "Bearer " .. line })
      end
    end
  end
  next_index = (id * 7919) % #requests + 1
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
