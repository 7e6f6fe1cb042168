#!/usr/bin/env bash
# Kill the primary's host under a write load; measure the write outage, check that every
# acknowledged write survived, then restart the old primary and time its rejoin.
#   tests/failover.sh [LOAD_SECONDS]
# MODE=partition: instead of killing, take the primary's link down for PART_SECONDS
# (a host that vanishes without RSTs); URL_EXTRA is appended to the connection URL.
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
lab() { "$R/lab" "$@"; }
secs=${1:-45}
out=$R/log/failover-$(date +%H%M%S)
mkdir -p "$out"
old=$(lab call leader)
echo "primary before: $old"
lab patronictl show-config | grep -E 'ttl|loop_wait|retry_timeout|synchronous' || true
lab psql -q -c "CREATE TABLE IF NOT EXISTS t(n int PRIMARY KEY, host inet, at timestamptz DEFAULT now())" -c "TRUNCATE t"
lab sh app1 timeout $((secs + 60)) /usr/bin/python3 "$R/tests/writer.py" "$(lab url)${URL_EXTRA:-}" "$secs" >"$out/writer.log" 2>&1 &
wpid=$!
sleep 5
if [[ ${MODE:-kill} == partition ]]; then
	ip -n "$(lab call ns "$old")" link set eth0 down
	t0=$(date +%s.%N)
	echo "link of $old down"
	sleep "${PART_SECONDS:-25}"
	ip -n "$(lab call ns "$old")" link set eth0 up
	echo "link of $old up again"
else
	lab kill "$old"
	t0=$(date +%s.%N) # after every process of the host is gone
fi
wait $wpid || true
python3 - "$out/writer.log" "$t0" <<'PY' | tee "$out/summary"
import sys
log, t0 = sys.argv[1], float(sys.argv[2])
rows = [l.split(None, 3) for l in open(log) if l[:1].isdigit()]
ok = [(float(r[0]), int(r[2])) for r in rows if r[1] == 'ok']
before = [o for o in ok if o[0] < t0]; after = [o for o in ok if o[0] >= t0]
bad = [r for r in rows if r[1] != 'ok']
print(f"acked before kill: {len(before)}, acked after: {len(after)}, failed attempts: {len(bad)}")
if after:
    gap = max((b[0] - a[0], a[0], b[0]) for a, b in zip(ok, ok[1:]))
    print(f"write outage (longest gap between acks): {gap[0]:.2f}s; first ack {after[0][0]-t0:.2f}s after the kill completed")
kinds = {}
for r in bad:
    k = r[3].split(':')[0] + ': ' + r[3].split(':', 1)[1][:70].strip() if len(r) > 3 and ':' in r[3] else r[1]
    kinds[(r[1], k)] = kinds.get((r[1], k), 0) + 1
for (s, k), c in sorted(kinds.items(), key=lambda x: -x[1]):
    print(f"  {c:4d} x {s} {k}")
open(log + '.acked', 'w').write('\n'.join(str(n) for _, n in ok) + '\n')
PY
new=$(lab call leader || echo none)
echo "primary after: $new"
lab psql -At -c "select n from t order by n" >"$out/present"
missing=$(comm -23 <(sort "$out/writer.log.acked") <(sort "$out/present") | wc -l)
echo "acknowledged writes missing after failover: $missing"
grep -hE 'promot|acquired session lock|Got response from|Lock owner' "$R/log/$new/patroni.log" | tail -4 || true
# rejoin
t1=$(date +%s.%N)
[[ ${MODE:-kill} == partition ]] || lab start "$old"
for i in $(seq 1 120); do
	if lab patronictl list -f json 2>/dev/null | python3 -c '
import json,sys; m={x["Member"]:x for x in json.load(sys.stdin)}
o=m.get(sys.argv[1],{}); sys.exit(0 if o.get("State") in ("running","streaming") and o.get("Role")!="Leader" and o.get("Lag in MB",1)==0 else 1)' "$old"; then
		break
	fi
	sleep 1
done
printf 'old primary %s back as standby after %.1fs\n' "$old" "$(echo "$(date +%s.%N) - $t1" | bc)"
lab patronictl list
grep -hE 'rewind|pg_rewind|Lock owner|demot|crash recovery' "$R/log/$old/patroni.log" | tail -12 || true
