-- POST /users/regist once per "phone,code" line of $BENCH_CODES, then stop.
--
-- Each code is good for one registration, so the run is bounded by the
-- count of lines as well as by wrk's -d. Once the lines run out the thread
-- stops; wrk's own req/s would then divide by the full -d, so this script
-- times itself (CLOCK_MONOTONIC through LuaJIT's ffi) and done() reports
-- registrations answered / seconds from the first request to the last answer.
-- Lines are dealt out round-robin when wrk runs several threads
-- ($BENCH_THREADS must then equal wrk's -t).
dofile((os.getenv("BENCH_LUA") or "bench") .. "/common.lua")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now()
   ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads, nthreads = {}, 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   table.insert(threads, thread)
end

local lines, i, answered, bad, t0, t1 = {}, 0, 0, 0, nil, nil
local password = assert(os.getenv("BENCH_PASSWORD"))

function init(args)
   local tid = wrk.thread:get("tid")
   local nthr = tonumber(os.getenv("BENCH_THREADS") or "1")
   local k = 0
   for line in io.lines(assert(os.getenv("BENCH_CODES"))) do
      local phone, code = line:match("^(%d+),(%d+)$")
      -- Every thread reads the whole file and keeps its own share.
      if phone then
         if k % nthr == tid then
            table.insert(lines, string.format(
               '{"phone":"%s","password":"%s","code":"%s"}', phone, password, code))
         end
         k = k + 1
      end
   end
end

local idle = wrk.format("GET", "/bench/nginx")

function request()
   if t0 == nil then t0 = now() end
   i = i + 1
   if i > #lines then
      -- Out of codes: stop this thread. The loop still sends what we
      -- return, so it is the cheapest request there is, never counted.
      wrk.thread:stop()
      return idle
   end
   return wrk.format("POST", "/users/regist",
      { ["Content-Type"] = "application/json" }, lines[i])
end

function response(status, headers, body)
   -- 200 is never a registration's answer: it is the idle request's.
   if status == 200 or answered >= #lines then return end
   answered = answered + 1
   if status ~= 201 then bad = bad + 1 end
   t1 = now()
   wrk.thread:set("answered", answered)
   wrk.thread:set("bad", bad)
   wrk.thread:set("secs", t1 - t0)
end

bench_override = function(summary)
   local n, b, secs = 0, 0, 0
   for _, t in ipairs(threads) do
      n = n + (t:get("answered") or 0)
      b = b + (t:get("bad") or 0)
      secs = math.max(secs, t:get("secs") or 0)
   end
   return n, secs, b
end
