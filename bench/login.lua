-- POST /users/login as JSON for $BENCH_PHONE / $BENCH_PASSWORD (the same user every time).
dofile((os.getenv("BENCH_LUA") or "bench") .. "/common.lua")

wrk.method = "POST"
wrk.path = "/users/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"phone":"%s","password":"%s"}',
   assert(os.getenv("BENCH_PHONE")), assert(os.getenv("BENCH_PASSWORD")))
