-- wrk script: the public booking create, each request on a slot of its own.
-- BENCH_BODIES names a file of JSON bodies, one a line (distinct free slots); thread i of n
-- posts lines i, i+n, i+2n, ... so no two requests ask for the same slot while lines last.
-- done() prints the same JSON line as report.lua plus the count of each status code.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  thread:set("nthreads", 0)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  bodies = {}
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    bodies[#bodies + 1] = line
  end
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  next_index = id + 1
  statuses = {}
  exhausted = 0
  path = os.getenv("BENCH_PATH") or "/api/v1/bookings"
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  local i = next_index
  next_index = next_index + nthreads
  if i > #bodies then
    exhausted = exhausted + 1
    i = ((i - 1) % #bodies) + 1
  end
  return wrk.format("POST", path, headers, bodies[i])
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  local reused = 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      counts[code] = (counts[code] or 0) + n
    end
    reused = reused + thread:get("exhausted")
  end
  local parts = {}
  for code, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%d":%d', code, n)
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.2f,'
      .. '"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"statuses":{%s},"bodies_reused":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ","), reused))
end
