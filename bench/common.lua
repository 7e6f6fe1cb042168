-- Shared by the bench/*.lua wrk scripts: one machine-readable result line.
--
-- done() prints
--   BENCH rps=<req/s> p50_ms=<ms> p99_ms=<ms> requests=<n> bad=<non-2xx/3xx>
--         errors=<connect+read+write+timeout>
-- which scripts/bench parses. A script that counts its own requests and
-- time (regist.lua stops when its codes run out) sets bench_override(summary)
-- to return its own requests, seconds and bad counts.

bench_override = nil

function done(summary, latency, requests)
   local n, secs, bad = summary.requests, summary.duration / 1e6, summary.errors.status
   if bench_override then
      n, secs, bad = bench_override(summary)
   end
   local e = summary.errors
   local rps = 0
   if secs > 0 then rps = n / secs end
   io.write(string.format(
      "BENCH rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d bad=%d errors=%d\n",
      rps, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      n, bad, e.connect + e.read + e.write + e.timeout))
end
