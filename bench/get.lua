-- GET the URL wrk was given, with `Authorization: Bearer $BENCH_TOKEN` when set.
dofile((os.getenv("BENCH_LUA") or "bench") .. "/common.lua")

local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end
