#!/usr/bin/env bash
# Kill a storage host while app1 writes blobs and app2 reads them back; then restart it
# and time the heal.   tests/storage-kill.sh [HOST] [SECONDS]
set -uo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
lab() { "$R/lab" "$@"; }
victim=${1:-st1} secs=${2:-30}
B=$R/tests/blobtest
out=$R/log/storage-kill-$(date +%H%M%S).log
base=$((RANDOM * 100))
(
	end=$((SECONDS + secs)) k=0
	while ((SECONDS < end)); do
		k=$((k + 1))
		t=$(date +%s.%N)
		w=$(lab sh app1 "$B" put "$R/mnt/app1/kill" 10 $((base + k)) 2>&1 | tr '\n' ' ')
		r=$(lab sh app2 "$B" check "$R/mnt/app2/kill" 10 $((base + k)) 2>&1 | tr '\n' ' ')
		printf '%s %.2f %s| %s\n' "$t" "$(echo "$(date +%s.%N) - $t" | bc)" "$w" "$r"
	done
) >"$out" &
lp=$!
sleep 8
lab kill "$victim"
tk=$(date +%s.%N)
wait $lp
echo "batches of 10 puts (app1) + 10 reads (app2): $(wc -l <"$out"), with any error: $(grep -vc 'put: 10 stored, 0 already there, 0 errors | check: 10 files, 0 bad' "$out")"
grep -v 'put: 10 stored, 0 already there, 0 errors | check: 10 files, 0 bad' "$out" | head -5
awk -v tk="$tk" '$1>tk-5 {print}' "$out" | sort -k2 -nr | head -3 | awk '{print "slowest batch around the kill: " $2 " s (10 puts + 10 reads)"}'
# old files still readable with the host down
lab sh app2 "$B" check "$R/mnt/app2/kill" 10 $((base + 1))
lab gluster volume status images | grep -E '^Brick|Self-heal|^[a-z]' | head -8 || true
echo "pending heal with $victim down:"; lab heal-info "$( [[ $victim == st1 ]] && echo st2 || echo st1)" | grep -E 'entries|^Brick'
t1=$(date +%s.%N)
lab start "$victim"
for i in $(seq 1 120); do
	n=$(lab heal-info "$victim" 2>/dev/null | awk '/entries:/{s+=$4; c++} END{print (c==3 ? s : "x")}')
	[[ $n == 0 ]] && break
	sleep 1
done
printf 'healed (0 entries on all 3 bricks) %.1f s after restarting %s\n' "$(echo "$(date +%s.%N) - $t1" | bc)" "$victim"
for s in st1 st2 st3; do echo "$s: $(find "$R/state/$s/brick/images/kill" -type f | wc -l) files"; done
