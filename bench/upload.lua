-- POST /upload: $BENCH_FILE as the multipart field "image", with `Authorization: Bearer $BENCH_TOKEN`.
dofile((os.getenv("BENCH_LUA") or "bench") .. "/common.lua")

local f = assert(io.open(assert(os.getenv("BENCH_FILE")), "rb"))
local bytes = f:read("*a")
f:close()

local boundary = "----appd-bench-7MA4YWxkTrZu0gW"
wrk.method = "POST"
wrk.path = "/upload"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"))
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
   'Content-Disposition: form-data; name="image"; filename="bench.jpg"\r\n' ..
   "Content-Type: image/jpeg\r\n\r\n" ..
   bytes .. "\r\n--" .. boundary .. "--\r\n"
