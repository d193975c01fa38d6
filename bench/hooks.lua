-- wrk script for bench/hooks.sh: one request per distinct token (the
-- server refuses a reused jti), rotating over the hook bodies, and counting
-- statuses and card-bearing responses per thread.
--
-- Environment: BENCH_TOKENS (file, one JWT per line; empty = no
-- Authorization header), BENCH_BODIES (file, one JSON body per line; empty
-- = GET), BENCH_THREADS (wrk -t), BENCH_EXPECT (substring a good body
-- contains, e.g. "summary"), BENCH_STATUS (the status a good answer has,
-- 200 unless set: the floors of bench/hooks.sh expect 404 and 400),
-- BENCH_TOKENS_CYCLE (1: start the tokens over when they run out, for a
-- floor whose tokens the server never verifies).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function read_lines(path, keep)
  local out = {}
  if path == nil or path == "" then return out end
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  local n = 0
  for line in f:lines() do
    if line ~= "" then
      if keep(n) then out[#out + 1] = line end
      n = n + 1
    end
  end
  f:close()
  return out
end

function init(args)
  local k = tonumber(os.getenv("BENCH_THREADS") or "1")
  -- Disjoint tokens per thread; every thread sees every body.
  tokens = read_lines(os.getenv("BENCH_TOKENS"), function(n) return n % k == id end)
  bodies = read_lines(os.getenv("BENCH_BODIES"), function(n) return true end)
  expect = os.getenv("BENCH_EXPECT") or ""
  want = tonumber(os.getenv("BENCH_STATUS") or "200")
  cycle = os.getenv("BENCH_TOKENS_CYCLE") == "1"
  ti, bi = 0, 0
  ok, good, unauthorized, other, exhausted = 0, 0, 0, 0, 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  if #tokens > 0 then
    ti = ti + 1
    if ti > #tokens and cycle then
      ti = 1
    elseif ti > #tokens then
      exhausted = 1
      wrk.thread:stop()
      ti = #tokens
    end
    headers["Authorization"] = "Bearer " .. tokens[ti]
  end
  if #bodies == 0 then
    return wrk.format("GET", nil, headers, nil)
  end
  bi = bi % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[bi])
end

function response(status, hdrs, body)
  if status == want then
    ok = ok + 1
    if expect == "" or string.find(body, expect, 1, true) then good = good + 1 end
  elseif status == 401 then
    unauthorized = unauthorized + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local s = { ok = 0, good = 0, unauthorized = 0, other = 0, exhausted = 0 }
  for _, t in ipairs(threads) do
    for key, _ in pairs(s) do s[key] = s[key] + (t:get(key) or 0) end
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, ' ..
    '"status_ok": %d, "expected_body": %d, "status_401": %d, "status_other": %d, "socket_errors": %d, "tokens_exhausted": %s}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    s.ok, s.good, s.unauthorized, s.other,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    s.exhausted > 0 and "true" or "false"))
end
