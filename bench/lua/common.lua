-- Shared by every bench script; loaded with dofile() by each Lua state wrk creates (the main
-- one and one per thread).
--
-- Arguments after wrk's "--" (all optional):
--   tokens=FILE   one access token per line; thread i takes lines i, i+T, i+2T …
--   rate=R        requests per second for the whole run (0 = as fast as possible); each
--                 thread paces its own share with delay()
--   slot=S        first time slot per citizen, budget=B slots per citizen (ingest scripts)
--   base=EPOCH    the newest slot's instant (unix seconds); slot k is 10 minutes earlier per k
--   tag=TEXT      makes client_event_ids unique to the run
--   limit=N       total requests (the hot incentive): one per token, then connections idle
--   donefile=PATH each thread appends a line there once its last answer arrived (limit mode)
--   start_after_ms=N  limit mode: every connection's request waits until N ms after start,
--                 so all connections are open before the burst (as behind a load balancer
--                 that keeps its connections to the service); without it each connection
--                 sends as soon as it is connected
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")

function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: comparable between threads
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- main state: give each thread its number and collect their counters at the end -----------
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("thread_id", nthreads)
  table.insert(threads, thread)
  nthreads = nthreads + 1
end

-- thread state -------------------------------------------------------------------------
opts = {}
tokens = {}
counters = { ok = 0, s409 = 0, s4xx = 0, s5xx = 0, other = 0, wrapped = 0 }
first_ms = nil
last_ms = nil
last_ok_ms = nil
local delays = 0 -- calls of delay(): wrk calls it before every real request
local interval_ms = 0
local next_ms = 0
local reserved = 0
local answered = 0
local per_thread_limit = nil
local start_ms = nil

function parse_args(args)
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then opts[k] = v end
  end
end

function init(args)
  parse_args(args)
  local threads_total = tonumber(opts.threads or "1")
  if opts.tokens then
    local i = 0
    for line in io.lines(opts.tokens) do
      if line ~= "" then
        if i % threads_total == thread_id then table.insert(tokens, line) end
        i = i + 1
      end
    end
    if #tokens == 0 then error("thread " .. thread_id .. " has no tokens") end
  end
  local rate = tonumber(opts.rate or "0")
  if rate > 0 then interval_ms = 1000 * threads_total / rate end
  if opts.limit then per_thread_limit = #tokens end
  if opts.start_after_ms then start_ms = now_ms() + tonumber(opts.start_after_ms) end
  if init_script then init_script() end
end

-- Pacing: each call reserves the next free slot of this thread's schedule, so the thread
-- sends rate/threads requests a second however many connections wait (open-loop-like as long
-- as there are enough connections). In limit mode, one request per token, then idle.
function delay()
  delays = delays + 1
  if per_thread_limit then
    if reserved < per_thread_limit then
      reserved = reserved + 1
      if start_ms then return math.max(0, start_ms - now_ms()) end
      return 0
    end
    return 3600000
  end
  if interval_ms == 0 then return 0 end
  local now = now_ms()
  if next_ms < now then next_ms = now end
  local wait = next_ms - now
  next_ms = next_ms + interval_ms
  return wait
end

function response(status, headers, body)
  last_ms = now_ms()
  if status == 200 or status == 201 then
    counters.ok = counters.ok + 1
    last_ok_ms = last_ms
  elseif status == 409 then
    counters.s409 = counters.s409 + 1
  elseif status >= 500 then
    counters.s5xx = counters.s5xx + 1
  elseif status >= 400 then
    counters.s4xx = counters.s4xx + 1
  else
    counters.other = counters.other + 1
  end
  if per_thread_limit then
    answered = answered + 1
    if answered == per_thread_limit and opts.donefile then
      local f = io.open(opts.donefile, "a")
      f:write(thread_id, "\n")
      f:close()
    end
  end
end

-- Call at the top of request(). wrk calls request() once on thread 0 before any connection
-- exists, to check the script (that request is never sent): it returns false then, and the
-- call must neither start the clock nor use up a token.
function mark_sent()
  if delays == 0 then return false end
  if first_ms == nil then first_ms = now_ms() end
  return true
end

-- One machine-readable line for the driver (bench/wrk.py parses it). -----------------
function done(summary, latency, requests)
  local c = { ok = 0, s409 = 0, s4xx = 0, s5xx = 0, other = 0, wrapped = 0 }
  local first, last, last_ok = nil, nil, nil
  for _, t in ipairs(threads) do
    local tc = t:get("counters")
    for k, _ in pairs(c) do c[k] = c[k] + (tc[k] or 0) end
    local f, l = t:get("first_ms"), t:get("last_ms")
    if f and (first == nil or f < first) then first = f end
    if l and (last == nil or l > last) then last = l end
    local o = t:get("last_ok_ms")
    if o and (last_ok == nil or o > last_ok) then last_ok = o end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH-RESULT {\"requests\": %d, \"duration_us\": %d, \"ok\": %d, \"s409\": %d, " ..
    "\"s4xx\": %d, \"s5xx\": %d, \"other\": %d, \"wrapped\": %d, " ..
    "\"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, \"timeouts\": %d, " ..
    "\"p50_us\": %d, \"p90_us\": %d, \"p99_us\": %d, \"max_us\": %d, \"mean_us\": %.1f, " ..
    "\"first_ms\": %.3f, \"last_ms\": %.3f, \"last_ok_ms\": %.3f}\n",
    summary.requests, summary.duration, c.ok, c.s409, c.s4xx, c.s5xx, c.other, c.wrapped,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, first or 0, last or 0, last_ok or 0))
end

-- Helpers for the scripts ---------------------------------------------------------------
local token_i = 0

-- The next token of this thread, round robin; returns its index too.
function next_token()
  token_i = token_i % #tokens + 1
  return tokens[token_i], token_i
end

function auth_headers(token)
  return { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
end

-- Per citizen (token index) the next free 10-minute slot within [slot, slot + budget);
-- past the budget it wraps around (those records overlap earlier ones and are rejected).
local used = {}
function take_slots(i, n)
  local start = tonumber(opts.slot or "0")
  local budget = tonumber(opts.budget or "100")
  local k = used[i] or 0
  if k + n > budget then
    k = 0
    counters.wrapped = counters.wrapped + 1
  end
  used[i] = k + n
  return start + k
end

function slot_time(slot)
  -- the slot's end; the activity lasts 8 minutes inside it
  return tonumber(opts.base) - slot * 600
end

function iso(epoch)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", epoch)
end

-- A plausible record for slot k (types rotate; every one fits in 8 minutes).
local kinds = {
  function(n) return "transit.metro", string.format('{"distance_km": %d.%d, "duration_min": 8}', 3 + n % 5, n % 10) end,
  function(n) return "transit.bus", string.format('{"distance_km": %d.%d, "duration_min": 8}', 2 + n % 2, n % 10) end,
  function(n) return "cycling", string.format('{"distance_km": %d.%d, "duration_min": 8}', 1 + n % 2, 5 + n % 5) end,
  function(n) return "walking", string.format('{"steps": %d, "duration_min": 8}', 600 + (n * 37) % 300) end,
}

function record_json(cid, slot, n)
  local typ, data = kinds[n % #kinds + 1](n)
  return string.format('{"client_event_id": "%s", "type": "%s", "occurred_at": "%s", "data": %s}',
    cid, typ, iso(slot_time(slot)), data)
end
