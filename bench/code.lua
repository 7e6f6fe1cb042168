-- POST /users/code for a new phone each time: 1 <BENCH_PREFIX, 2 digits> <thread> <7-digit counter>.
dofile((os.getenv("BENCH_LUA") or "bench") .. "/common.lua")

local prefix = assert(os.getenv("BENCH_PREFIX"))
local next_id = 0

function setup(thread)
   thread:set("tid", next_id)
   next_id = next_id + 1
end

local counter = 0

function request()
   counter = counter + 1
   local phone = string.format("1%s%d%07d", prefix, wrk.thread:get("tid"), counter)
   return wrk.format("POST", "/users/code",
      { ["Content-Type"] = "application/json" },
      '{"phone":"' .. phone .. '"}')
end
