#!/usr/bin/python3
"""Write load for the failover test: one INSERT per iteration through libpq's multi-host
URL (target_session_attrs=read-write), reconnecting after any error. Prints one line per
attempt: epoch, ok|err|unknown, n, detail. 'ok' = acknowledged (COMMIT returned)."""
import sys, time
import psycopg2

url, seconds = sys.argv[1], float(sys.argv[2])
pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.02
end = time.time() + seconds
conn, n = None, 0
while time.time() < end:
    n += 1
    sent = False
    try:
        if conn is None:
            conn = psycopg2.connect(url)
            conn.autocommit = True
        cur = conn.cursor()
        sent = True
        cur.execute("INSERT INTO t(n, host) VALUES (%s, inet_server_addr())", (n,))
        print(f"{time.time():.3f} ok {n}", flush=True)
        time.sleep(pause)
    except Exception as e:
        msg = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        # after the statement was sent its outcome is unknown to us
        print(f"{time.time():.3f} {'unknown' if sent else 'err'} {n} {type(e).__name__}: {msg}", flush=True)
        try:
            conn and conn.close()
        except Exception:
            pass
        conn = None
        time.sleep(0.1)
