"""Faults and abuse (issue 8): garbage and half-written FastCGI records on appd's own socket,
PostgreSQL restarted and Nginx reloaded under load, oversized request headers, slow clients.

The FastCGI-level tests run a DirectAppd of their own (its socket, its log); the others go
through the shared stack's Nginx. Nothing here asserts throughput: load is a few Python
threads for a few seconds, and every wait polls for its condition under a generous bound.
"""
import json
import os
import random
import re
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest
import requests

from fcgi_client import (FCGI_ABORT, FCGI_BEGIN, FCGI_END, FCGI_GET_VALUES, FCGI_PARAMS,
                         FCGI_STDIN, FCGI_STDOUT, DirectAppd, begin, full_request, nv,
                         params_stream, read_until_closed, rec)
from util import (child_pids, fcgi_call, login_user, metric, metric_samples, parse_metrics,
                  proc_alive, stop_direct, wait_for)

# Log lines of the manager that mean a worker died (crash, abort, sanitizer exit) and was
# replaced.
CRASH_RE = re.compile(r"killed by signal|exited with status|respawned worker")


def base_params(path="/healthz", method="GET", **extra):
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "SCRIPT_NAME": path,
           "REQUEST_URI": path, "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
           "REQUEST_ID": "h8-" + os.urandom(6).hex(), "CONTENT_LENGTH": "0",
           "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "https"}
    env.update(extra)
    return env


def parse_records(buf):
    """(stdout bytes, saw END_REQUEST) from what appd wrote back (garbage tolerated)."""
    out, ended = b"", False
    while len(buf) >= 8:
        _, rtype, _, clen, pad, _ = struct.unpack(">BBHHBB", buf[:8])
        if len(buf) < 8 + clen + pad:
            break
        if rtype == FCGI_STDOUT:
            out += buf[8:8 + clen]
        elif rtype == FCGI_END:
            ended = True
        buf = buf[8 + clen + pad:]
    return out, ended


def cgi_status(stdout):
    head, sep, _ = stdout.partition(b"\r\n\r\n")
    if not sep:
        return None
    m = re.search(rb"^Status: (\d{3})", head, re.M)
    return int(m.group(1)) if m else 200


def unix_connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def send_and_drain(path, payload, timeout=15):
    """Sends payload, half-closes, and reads until appd closes the connection; returns the
    bytes read. A connection appd keeps open past timeout is a failure (socket.timeout)."""
    s = unix_connect(path)
    try:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass                # appd gave up on it early: fine, read what it said
        s.settimeout(timeout)
        return read_until_closed(s)
    finally:
        s.close()


def backlog(path):
    """Connections waiting in the listen queue of the unix socket at path (ss's Recv-Q).
    appd binds a temporary name (path.PID.tmp) and renames it into place; ss shows the name
    it was bound under."""
    out = subprocess.run(["ss", "-xlnH"], capture_output=True, text=True, timeout=10).stdout
    named = re.compile(re.escape(path) + r"(\.\d+\.tmp)?")
    queues = [int(f[2]) for f in (line.split() for line in out.splitlines())
              if len(f) >= 5 and f[1] == "LISTEN" and named.fullmatch(f[4])]
    assert len(queues) == 1, (path, out)
    return queues[0]


@pytest.fixture
def direct():
    """Starts DirectAppds that inherit the sanitizer settings (so reports land where
    scripts/e2e looks); stops them and SIGKILLs any worker that outlived its manager."""
    started = []

    def start(**overrides):
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if os.environ.get(k):
                overrides.setdefault(k, os.environ[k])
        appd = DirectAppd(**overrides)
        started.append((appd, set(child_pids(appd.proc.pid))))
        return appd

    yield start
    for appd, kids in started:
        stop_direct(appd, kids)


def log_lines_json(text):
    """Every line of an appd log parsed: each must be exactly one JSON object."""
    rows = []
    for i, line in enumerate(text.splitlines()):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise AssertionError("log line %d is not JSON (%s): %r" % (i + 1, e, line[:300]))
    return rows


# ---------------------------------------------------------------- 1. garbage records

def garbage_payloads():
    """(name, bytes, statuses): statuses is None where any outcome but a crash or a hang is
    fine (the peer broke the protocol), else the set of statuses appd must answer with
    (a well-formed request that abuses the application layer)."""
    rnd = random.Random(8)
    out = []
    for size in (1, 7, 8, 64, 4096, 70000):
        out.append(("random-%d" % size, bytes(rnd.getrandbits(8) for _ in range(size)), None))
    # Random bytes behind a valid record header: garbage inside the PARAMS stream.
    out.append(("random-in-params", begin() + rec(FCGI_PARAMS, bytes(
        rnd.getrandbits(8) for _ in range(4000))) + rec(FCGI_PARAMS) + rec(FCGI_STDIN), None))
    good = params_stream(base_params())
    out += [
        ("zero-header", b"\0" * 8, None),
        ("bad-version-2", rec(FCGI_BEGIN, struct.pack(">HB5x", 1, 0), version=2) + good, None),
        ("bad-version-255", rec(FCGI_BEGIN, struct.pack(">HB5x", 1, 0), version=255), None),
        ("unknown-role", begin(role=7) + good + rec(FCGI_STDIN), None),
        ("role-0", begin(role=0) + good + rec(FCGI_STDIN), None),
        ("role-ffff", begin(role=0xFFFF) + good + rec(FCGI_STDIN), None),
        ("authorizer-role", begin(role=2) + good + rec(FCGI_STDIN), None),
        ("filter-role", begin(role=3) + good + rec(FCGI_STDIN), None),
        ("begin-request-id-0", begin(rid=0) + params_stream(base_params(), rid=0), None),
        ("begin-short-body", rec(FCGI_BEGIN, b"\0\1\0\0") + good, None),
        ("begin-long-body", rec(FCGI_BEGIN, b"\0\1" + b"\xff" * 30) + good, None),
        ("begin-twice", begin(rid=1) + begin(rid=2) + good + rec(FCGI_STDIN), None),
        ("params-before-begin", good + begin() + rec(FCGI_STDIN), None),
        ("stdin-before-params", begin() + rec(FCGI_STDIN, b"xx") + good + rec(FCGI_STDIN), None),
        ("params-other-request-id", begin(rid=1) + params_stream(base_params(), rid=9)
         + rec(FCGI_STDIN, rid=9), None),
        ("abort-mid-params", begin() + rec(FCGI_PARAMS, nv("A", "b")) + rec(FCGI_ABORT), None),
        ("unknown-type-only", rec(42, b"what is this", rid=0), None),
        ("unknown-type-mid-request", begin() + rec(42, b"x" * 9) + good + rec(FCGI_STDIN), None),
        ("get-values", rec(FCGI_GET_VALUES, nv("FCGI_MAX_CONNS", "") + nv("FCGI_MPXS_CONNS", "")
                           + nv("\xff" * 200, ""), rid=0), None),
        ("get-values-truncated", rec(FCGI_GET_VALUES, b"\x80\x00\x01\x00\x05abc", rid=0), None),
        # Name-value lengths that lie.
        ("params-name-length-2g", begin() + rec(FCGI_PARAMS, b"\xff\xff\xff\xff\x01" + b"A" * 11)
         + rec(FCGI_PARAMS) + rec(FCGI_STDIN), None),
        ("params-value-length-2g", begin() + rec(FCGI_PARAMS, b"\x01\xff\xff\xff\xffA" + b"v" * 9)
         + rec(FCGI_PARAMS) + rec(FCGI_STDIN), None),
        ("params-lengths-past-end", begin() + rec(FCGI_PARAMS, bytes([100, 100]) + b"short")
         + rec(FCGI_PARAMS) + rec(FCGI_STDIN), None),
        ("params-1mib-value-then-eof", begin() + rec(FCGI_PARAMS, b"\x04\x80\x10\x00\x00NAMEvv"),
         None),
        ("params-half-length", begin() + rec(FCGI_PARAMS, b"\x80\x00"), None),
        # Record headers that lie.
        ("record-longer-than-sent", begin() + rec(FCGI_PARAMS, nv("A", "b"), clen=60000), None),
        ("record-padding-lie", begin() + rec(FCGI_PARAMS, nv("A", "b"), pad=255) + good, None),
        ("header-cut", begin() + rec(FCGI_PARAMS, nv("A", "b"))[:5], None),
        ("stdin-without-end", begin() + good + rec(FCGI_STDIN, b"{\"phone\":"), None),
    ]
    # Well-formed FastCGI, abusive content: appd must answer, and with the right class.
    huge_uri = "/users/" + "a" * 65536
    out += [
        ("non-utf8-uri",
         full_request(base_params() | {"DOCUMENT_URI": b"/users/\xff\xfe\xc0\x80x"}), {404}),
        # libfcgi keeps parameters as C strings: the NUL ends the path.
        ("nul-in-uri",
         full_request(base_params() | {"DOCUMENT_URI": b"/healthz\x00/x"}), {200, 404}),
        # Heads beyond lib/fcgihead's 128 KiB (Nginx's are a few KiB) are refused unread.
        ("huge-uri", full_request(base_params(path=huge_uri)), REFUSED),
        ("nul-in-method",
         full_request(base_params() | {"REQUEST_METHOD": b"GE\x00T"}), {404, 405}),
        ("empty-params", begin() + rec(FCGI_PARAMS) + rec(FCGI_STDIN), {404}),
        ("duplicate-method",
         full_request([("REQUEST_METHOD", "GET")] + list(base_params(method="DELETE").items())),
         {200, 405}),
        ("request-id-control-chars", full_request(base_params(
            REQUEST_ID='"},\n{"level":"error","msg":"forged"\x01\x7f\xff')), {200}),
        ("remote-addr-garbage", full_request(base_params(REMOTE_ADDR="not an address\n" * 50)),
         {200}),
        ("content-length-lie", full_request(base_params(
            path="/users/login", method="POST", CONTENT_TYPE="application/json",
            CONTENT_LENGTH="100"), body=b'{"phone":'), {400}),
        ("content-length-negative", full_request(base_params(
            path="/users/login", method="POST", CONTENT_TYPE="application/json",
            CONTENT_LENGTH="-5"), body=b"{}"), {400}),
        ("content-length-overflow", full_request(base_params(
            path="/users/login", method="POST", CONTENT_TYPE="application/json",
            CONTENT_LENGTH="99999999999999999999999"), body=b"{}"), {400, 413}),
        ("body-longer-than-content-length", full_request(base_params(
            path="/users/login", method="POST", CONTENT_TYPE="application/json",
            CONTENT_LENGTH="2"), body=b"{}" + b"x" * 100000), {400, 413}),
        ("ten-thousand-params", full_request(list(base_params().items())
                                             + [("X_%d" % i, "v") for i in range(10000)]), {200}),
        ("one-mib-cookie", full_request(base_params(path="/users/me",
                                                    HTTP_COOKIE="__Host-sid=" + "a" * 2**20)),
         REFUSED),
        ("one-mib-authorization", full_request(base_params(
            path="/users/me", HTTP_AUTHORIZATION="Bearer " + "A" * 2**20)), REFUSED),
        ("sixty-kib-cookie", full_request(base_params(path="/users/me",
                                                      HTTP_COOKIE="__Host-sid=" + "a" * 60000)),
         {401}),
    ]
    # A complete request followed by garbage on the same connection.
    out.append(("request-then-garbage", full_request(base_params()) + os.urandom(300), {200}))
    return out


REFUSED = "closed unanswered"


def test_garbage_fastcgi_records_crash_no_worker(direct):
    """Protocol garbage and lying lengths straight on appd's socket: every connection is
    closed by appd (none hangs), no worker crashes or is replaced, a well-formed but abusive
    request gets a proper answer, the log stays one JSON object per line, and normal requests
    are served afterwards by the same workers."""
    appd = direct(APPD_WORKERS=2)
    mgr = appd.proc.pid
    assert wait_for(lambda: len(child_pids(mgr)) == 2, timeout=10)
    assert fcgi_call(appd.socket, "/healthz").status == 200
    workers = set(child_pids(mgr))
    problems = []
    for name, payload, statuses in garbage_payloads():
        try:
            got = send_and_drain(appd.socket, payload)
        except socket.timeout:
            problems.append("%s: appd kept the connection open for 15 s after EOF" % name)
            continue
        if statuses is REFUSED:
            if got != b"":
                problems.append("%s: answered %r, want the connection closed unanswered"
                                % (name, got[:200]))
        elif statuses is not None:
            stdout, ended = parse_records(got)
            status = cgi_status(stdout)
            if status not in statuses or not ended:
                problems.append("%s: answered %r (ended %r), want one of %r: %r"
                                % (name, status, ended, sorted(statuses), stdout[:200]))
        crashed = CRASH_RE.findall(appd.log_text())
        if crashed or set(child_pids(mgr)) != workers:
            problems.append("%s: a worker died (%r; workers %r -> %r)"
                            % (name, crashed, sorted(workers), child_pids(mgr)))
            break
    assert problems == [], "\n".join(problems) + "\n--- log tail:\n" + appd.log_text()[-3000:]
    # Each payload ends with a half-close: a head cut short is dropped as soon as the peer's
    # end is seen, not after the head's time limit (5 s a connection, six of them here).
    text = appd.log_text()
    assert "closed by the peer within the request head" in text
    assert "request head incomplete after" not in text, text[-3000:]

    # The pool is intact and serves; each worker answers (more requests than workers).
    for _ in range(6):
        r = fcgi_call(appd.socket, "/healthz", timeout=15)
        assert r.status == 200 and r.json()["data"] == {"db": "ok"}, r
    assert appd.proc.poll() is None and set(child_pids(mgr)) == workers
    rows = log_lines_json(appd.log_text())
    assert not [r for r in rows if r.get("level") == "error"], \
        [r for r in rows if r.get("level") == "error"][:5]
    # The forged request id stayed inside its own line's "rid" string.
    assert not [r for r in rows if r.get("msg") == "forged"]
    assert any("forged" in (r.get("rid") or "") for r in rows), "request id not logged"


def test_keep_conn_requests_leak_no_descriptor(direct):
    """A peer that sets FCGI_KEEP_CONN (Nginx never does: fastcgi_keep_conn off) is answered,
    and its connection is still closed before the next one is taken: the workers' open
    descriptors do not grow with such requests."""
    appd = direct(APPD_WORKERS=1)
    mgr = appd.proc.pid
    assert wait_for(lambda: len(child_pids(mgr)) == 1, timeout=10)
    worker = child_pids(mgr)[0]
    assert fcgi_call(appd.socket, "/healthz").status == 200

    def fds():
        return len(os.listdir("/proc/%d/fd" % worker))

    before = fds()
    payload = (begin(flags=1) + params_stream(base_params()) + rec(FCGI_STDIN, b""))
    for _ in range(30):
        s = unix_connect(appd.socket)
        try:
            s.sendall(payload)
            s.settimeout(10)
            got = b""
            while b"\x01\x03" not in got:         # until END_REQUEST
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            assert cgi_status(parse_records(got)[0]) == 200
        finally:
            s.close()
        # The next connection makes the worker let go of this one.
        assert fcgi_call(appd.socket, "/healthz").status == 200
    assert fds() <= before + 1, "descriptors grew from %d to %d" % (before, fds())
    assert child_pids(mgr) == [worker]


@pytest.mark.parametrize("lengths", ["fffffff08ffffff0", "c0000000c0000000"])
def test_param_lengths_whose_sum_overflows_kill_no_worker(direct, lengths):
    """One PARAMS pair whose name and value lengths are each legal (< 2^31) but add up past
    INT_MAX. libfcgi 2.4.2 (Debian's CVE-2025-23016 fix included) computes the buffer size
    as `nameLen + valueLen + 2` in an int, and its Malloc() asserts when the allocation
    fails: the worker aborts (SIGABRT). appd must not lose a worker to a 60-byte record."""
    appd = direct(APPD_WORKERS=2)
    mgr = appd.proc.pid
    assert wait_for(lambda: len(child_pids(mgr)) == 2, timeout=10)
    assert fcgi_call(appd.socket, "/healthz").status == 200
    workers = set(child_pids(mgr))
    payload = (begin() + rec(FCGI_PARAMS, bytes.fromhex(lengths) + b"x" * 40)
               + rec(FCGI_PARAMS) + rec(FCGI_STDIN))
    send_and_drain(appd.socket, payload)
    assert fcgi_call(appd.socket, "/healthz", timeout=15).status == 200
    crashed = [line for line in appd.log_text().splitlines() if CRASH_RE.search(line)]
    assert crashed == [] and set(child_pids(mgr)) == workers, \
        "a worker died of one PARAMS record with lengths %s: %r" % (lengths, crashed)


# ---------------------------------------------------------------- 2. half a record, then silence

STALLS = {
    # 4 of a record header's 8 bytes.
    "half-header": lambda: begin()[:4],
    # A whole BEGIN_REQUEST, then half of a PARAMS record.
    "begin-half-params": lambda: begin() + params_stream(base_params())[:40],
    # Complete params announcing a 100-byte body; 10 bytes of it arrive.
    "params-half-body": lambda: begin() + params_stream(base_params(
        path="/users/login", method="POST", CONTENT_TYPE="application/json",
        CONTENT_LENGTH="100")) + rec(FCGI_STDIN, b'{"phone":1'),
}


@pytest.mark.parametrize("stall", sorted(STALLS))
def test_half_written_requests_do_not_wedge_the_pool(direct, stall):
    """As many silent, half-written connections as there are workers: appd must not stay stuck
    past APPD_REQUEST_TIMEOUT. Within the timeout plus a few seconds a normal request is
    answered 200 and the stalled connections are closed by appd."""
    timeout, n, slack = 2, 2, 8
    appd = direct(APPD_WORKERS=n, APPD_REQUEST_TIMEOUT=timeout, APPD_STOP_TIMEOUT=2)
    mgr = appd.proc.pid
    assert wait_for(lambda: len(child_pids(mgr)) == n, timeout=10)
    assert fcgi_call(appd.socket, "/healthz").status == 200
    stalled = []
    try:
        for _ in range(n):
            s = unix_connect(appd.socket)
            s.sendall(STALLS[stall]())
            stalled.append(s)
        t0 = time.monotonic()
        # Every stalled connection has been taken by a worker (none waits in the backlog).
        assert wait_for(lambda: backlog(appd.socket) == 0, timeout=10), backlog(appd.socket)
        try:
            r = fcgi_call(appd.socket, "/healthz", timeout=timeout + slack + 10)
        except subprocess.TimeoutExpired:
            r = None
        took = time.monotonic() - t0
        assert r is not None and r.status == 200 and took < timeout + slack, (
            "with %d half-written connections (%s) a normal request got %r after %.1f s "
            "(APPD_REQUEST_TIMEOUT=%d): the workers stay stuck reading the request\n%s"
            % (n, stall, r, took, timeout, appd.log_text()[-2000:]))
        # appd closed (or reset) each stalled connection; none is still held open.
        for s in stalled:
            s.settimeout(max(0.5, t0 + timeout + slack - time.monotonic()))
            try:
                while s.recv(65536):
                    pass
            except ConnectionResetError:
                pass
            except socket.timeout:
                pytest.fail("a stalled connection (%s) is still open %.1f s after it stalled"
                            % (stall, time.monotonic() - t0))
    finally:
        for s in stalled:
            s.close()
    assert appd.proc.poll() is None, "the manager died"
    assert wait_for(lambda: len(child_pids(mgr)) == n, timeout=10), child_pids(mgr)
    for _ in range(2 * n + 2):
        assert fcgi_call(appd.socket, "/healthz", timeout=15).status == 200


# ---------------------------------------------------------------- load through the stack

class Load:
    """Threads that each call fn() in a loop until stopped; every call is recorded as
    (start, end, name, status or the exception's repr)."""

    def __init__(self, fns):
        self.stop_ev = threading.Event()
        self.records = []
        self.threads = [threading.Thread(target=self._run, args=(name, fn), daemon=True)
                        for name, fn in fns]

    def _run(self, name, fn):
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                out = fn()
            except Exception as e:      # a failure the test reports
                out = repr(e)
            self.records.append((t0, time.monotonic(), name, out))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, exc_type, *exc):
        self.stop_ev.set()
        for t in self.threads:
            t.join(60)
        if exc_type is None:        # else the test's own failure is the one to report
            assert not any(t.is_alive() for t in self.threads), "a load thread hangs"

    def count(self, pred=lambda r: True):
        return sum(1 for r in list(self.records) if pred(r))


def stack_metrics(base_url):
    r = requests.get(base_url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    return parse_metrics(r.text)


@pytest.fixture(scope="module")
def token(base_url):
    s = requests.Session()
    try:
        return login_user(s, base_url)[0]
    finally:
        s.close()


def pg_stop(stack, mode):
    """Stops the stack's database (whichever it is): "fast" is a clean shutdown
    (scripts/stack db-stop), "immediate" a crash (db-kill: PostgreSQL's immediate stop,
    SIGKILL for MariaDB), every backend gone at once with no goodbye to the clients."""
    stack.script("db-stop" if mode == "fast" else "db-kill")


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_under_load(stack, base_url, token, mode):
    """PostgreSQL stops (a fast shutdown, or an immediate one as in a crash) and starts again
    while threads keep /healthz and GET /users/me busy for several seconds: every answer is
    200 or 503 (no 500, no 502/504, no connection error, none slower than 10 s), and once the
    database is back every request is 200 again, from the same workers."""
    manager, workers = stack.manager_pid(), stack.worker_pids()
    log0 = os.path.getsize(stack.log_path())
    auth = {"Authorization": "Bearer " + token}

    def session_caller(path, headers=None):
        s = requests.Session()
        return lambda: s.get(base_url + path, headers=headers, timeout=20).status_code

    fns = [("healthz", session_caller("/healthz")) for _ in range(2)]
    fns += [("me", session_caller("/users/me", auth)) for _ in range(2)]
    pg_down = False
    with Load(fns) as load:
        try:
            t_load = time.monotonic()
            assert wait_for(lambda: load.count() >= 20 and time.monotonic() > t_load + 1.5,
                            timeout=15), "the load did not start"
            n0 = load.count()
            pg_stop(stack, mode)
            pg_down = True
            t_down = time.monotonic()
            # Hold the database down for a while, and until the load has met the outage on
            # both routes.
            assert wait_for(lambda: all(load.count(lambda r: r[2] == name and r[3] == 503) >= 3
                                        for name in ("healthz", "me"))
                            and time.monotonic() > t_down + 2, timeout=30), \
                "no 503 while PostgreSQL was down: %r" % (
                    sorted({r[3] for r in load.records[n0:]}, key=str))
        finally:
            if pg_down:
                stack.script("pg-start")
        t_up = time.monotonic()
        probe = requests.Session()
        assert wait_for(lambda: probe.get(base_url + "/healthz", timeout=20).status_code == 200,
                        timeout=30, interval=0.1), "/healthz did not come back"
        # Keep the load on for a while after recovery.
        t_ok = t_up + 1.0       # > APPD_DB_RETRY_MS (250 ms): every worker's pause is over
        assert wait_for(lambda: load.count(lambda r: r[0] > t_ok) >= 40
                        and time.monotonic() > t_ok + 3, timeout=30)
    records = load.records
    bad = [r for r in records if r[3] not in (200, 503)]
    assert bad == [], "answers other than 200/503 under a database restart: %r" % bad[:5]
    slow = [r for r in records if r[1] - r[0] > 10]
    assert slow == [], "requests that hung: %r" % [(r[2], round(r[1] - r[0], 1)) for r in slow]
    after = [r for r in records if r[0] > t_ok]
    assert after and all(r[3] == 200 for r in after), \
        "after the database was back: %r" % [r for r in after if r[3] != 200][:5]
    assert {r[2] for r in after} == {"healthz", "me"}
    # No restart of appd: the same manager, and no worker died (the load may make a worker
    # reach APPD_MAX_REQUESTS and be recycled: that is not a restart).
    assert stack.manager_pid() == manager
    with open(stack.log_path(), encoding="utf-8", errors="replace") as f:
        f.seek(log0)
        died = [line for line in f if re.search(r"killed by signal|exited with status", line)]
    assert died == [], died[:5]
    assert wait_for(lambda: len(stack.worker_pids()) == len(workers), timeout=10)
    s = requests.Session()
    for _ in range(2 * len(workers) + 2):
        assert s.get(base_url + "/healthz", timeout=10).status_code == 200
        assert s.get(base_url + "/users/me", headers=auth, timeout=10).status_code == 200


def nginx_master(stack):
    with open(os.path.join(stack.dir, "nginx", "nginx.pid")) as f:
        return int(f.read().strip())


def test_nginx_reloads_under_load_fail_no_request(stack, base_url, token):
    """Nginx is reloaded (SIGHUP to its master, what `nginx -s reload` sends) six times in
    about eight seconds while threads send requests, each on a new connection: not one
    fails."""
    master = nginx_master(stack)
    auth = {"Authorization": "Bearer " + token}

    def fresh(path, headers=None):
        # requests.get makes a new session, so a new TCP+TLS connection, for every request.
        return lambda: requests.get(base_url + path, headers=headers, timeout=20).status_code

    fns = [("healthz", fresh("/healthz")), ("healthz", fresh("/healthz")),
           ("me", fresh("/users/me", auth)), ("static", fresh("/static/app.css"))]
    if not os.path.exists(os.path.join(stack.root, "public", "static", "app.css")):
        fns[3] = ("healthz", fresh("/healthz"))
    reloads = 6
    with Load(fns) as load:
        assert wait_for(lambda: load.count() >= 10, timeout=15), "the load did not start"
        for i in range(reloads):
            t_reload = time.monotonic()
            old = set(child_pids(master))
            assert old, "nginx has no workers"
            os.kill(master, signal.SIGHUP)
            # The reload is done when new workers serve and the old ones have exited.
            assert wait_for(lambda: child_pids(master) and not (set(child_pids(master)) & old),
                            timeout=20), "reload %d did not complete: %r -> %r" % (
                                i + 1, old, child_pids(master))
            # New connections keep coming for a while before the next reload.
            n = load.count()
            assert wait_for(lambda: load.count() >= n + 10 and time.monotonic() > t_reload + 1.3,
                            timeout=20), "the load stalled after reload %d" % (i + 1)
    records = load.records
    failed = [r for r in records if r[3] != 200]
    assert failed == [], "%d of %d requests failed across %d reloads: %r" % (
        len(failed), len(records), reloads, [(r[2], r[3]) for r in failed[:5]])
    assert nginx_master(stack) == master and proc_alive(master)
    assert requests.get(base_url + "/healthz", timeout=10).status_code == 200


# ---------------------------------------------------------------- raw HTTPS

def tls_connect(timeout=20):
    ctx = ssl.create_default_context(cafile=os.path.join(os.environ["STACK_DIR"], "tls",
                                                         "cert.pem"))
    raw = socket.create_connection(("localhost", int(os.environ["HTTPS_PORT"])), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_response(s):
    """One HTTP/1.1 response: (status, {lower-case header: value}, body); None if the
    connection closed before a status line."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        if not chunk:
            return None if not buf else (None, {}, buf)
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    want = int(headers.get("content-length", "0"))
    while len(body) < want:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        body += chunk
    return status, headers, body


def raw_request(data):
    s = tls_connect()
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass                # Nginx answered and closed before taking it all
        return read_response(s)
    finally:
        s.close()


def app_request_lines(stack):
    return [r for r in stack.log_lines() if r.get("event") == "request"]


# ---------------------------------------------------------------- 5. oversized headers

OVERSIZED = {
    # One header line over large_client_header_buffers' 8 KiB.
    "header-line-10k": (b"GET /users/me HTTP/1.1\r\nHost: localhost\r\nX-Big: "
                        + b"a" * 10240 + b"\r\n\r\n", 431),
    # Six lines of 7 KiB: each fits a buffer, all together (42 KiB) do not fit 4 x 8 KiB.
    "header-block-42k": (b"GET /users/me HTTP/1.1\r\nHost: localhost\r\n"
                         + b"".join(b"X-H%d: " % i + b"b" * 7000 + b"\r\n" for i in range(6))
                         + b"\r\n", 431),
    "cookie-10k": (b"GET /users/me HTTP/1.1\r\nHost: localhost\r\nCookie: __Host-sid="
                   + b"c" * 10240 + b"\r\n\r\n", 431),
    # A request line over 8 KiB.
    "request-line-10k": (b"GET /users/me?x=" + b"q" * 10240
                         + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414),
}


@pytest.mark.parametrize("case", sorted(OVERSIZED))
def test_oversized_headers_are_refused_by_nginx(stack, base_url, case):
    """Nginx refuses request headers over its buffers with the JSON envelope (431 for the
    header block, 414 for the request line), appd never sees the request, and the next
    request is served."""
    data, want = OVERSIZED[case]
    before = len(app_request_lines(stack))
    resp = raw_request(data)
    assert resp is not None and resp[0] is not None, "no HTTP response: %r" % (resp,)
    status, headers, body = resp
    assert status == want, (status, headers, body[:300])
    assert headers.get("content-type") == "application/json; charset=utf-8", (headers, body[:300])
    env = json.loads(body)
    assert env["code"] == want and env["error"] == "payload_too_large", env
    assert set(env) == {"code", "msg", "error"} and env["msg"], env
    rid = headers.get("x-request-id", "")
    assert len(rid) >= 16, headers
    assert headers.get("strict-transport-security", "").startswith("max-age="), headers
    if want == 414:
        # The internal page behind it is not reachable from outside.
        r = requests.get(base_url + "/_errors/414", timeout=10)
        assert r.status_code == 404 and r.json()["error"] == "not_found", r.text
    r = requests.get(base_url + "/healthz", timeout=10)
    assert r.status_code == 200, r.text
    # appd's log has our /healthz and nothing for the refused request.
    assert wait_for(lambda: len(app_request_lines(stack)) > before, timeout=5)
    assert rid not in stack.log_text()
    new = app_request_lines(stack)[before:]
    assert [(x["method"], x["path"]) for x in new] == [("GET", "/healthz")], new


# ---------------------------------------------------------------- 6. slow clients

def client_timeout(stack):
    conf = open(os.path.join(stack.dir, "nginx", "nginx.conf")).read()
    values = set()
    for name in ("client_header_timeout", "client_body_timeout"):
        m = re.search(r"^\s*%s\s+(\d+)(s|m)?;" % name, conf, re.M)
        assert m, name
        values.add(int(m.group(1)) * (60 if m.group(2) == "m" else 1))
    assert len(values) == 1, values
    return values.pop()


SLOW = {
    # Half of the header block, then nothing.
    "header": lambda path: (b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n"
                            b"Accept: application/json\r\nX-Half: yes"),
    # Complete headers announcing 100 bytes of body; 10 arrive.
    "body": lambda path: (b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                          b'{"phone":1'),
}


@pytest.mark.parametrize("kind", sorted(SLOW))
def test_slow_clients_are_cut_off_by_nginx_not_a_worker(stack, base_url, kind):
    """More stalled clients than appd has workers (half the headers, or headers and part of
    the body): while they stall, no worker is busy and a normal request is answered; Nginx
    cuts each one off after its client timeout (NGINX_CLIENT_TIMEOUT: no response, or a 408),
    and appd never hears of them."""
    limit = client_timeout(stack)
    samples = stack_metrics(base_url)
    n = int(metric(samples, "appd_workers_max"))
    assert n >= 1
    # A route that reads a body: a worker handed the body-stall would block in it.
    path = b"/users/login"
    log0 = os.path.getsize(stack.log_path())
    conns = {}          # socket -> (connect started, stall started)
    try:
        for _ in range(n + 1):
            t_conn = time.monotonic()
            s = tls_connect()
            s.sendall(SLOW[kind](path))
            conns[s] = (t_conn, time.monotonic())
        # While they stall, appd is idle and answers another client.
        r = requests.get(base_url + "/healthz", timeout=20)
        assert r.status_code == 200, r.text
        during = stack_metrics(base_url)
        checked = time.monotonic()
        assert metric(during, "appd_workers", state="busy") == 0, \
            metric_samples(during, "appd_worker_busy_seconds")
        assert metric_samples(during, "appd_worker_busy_seconds") == []
        # Nginx cuts each one off: not before the timeout, not long after it. Each is
        # watched by its own thread, so each cut-off is timed when it happens. (Readiness
        # alone would not do: TLS 1.3 session tickets arrive right after the handshake.)
        cut = {}

        def watch(s):
            s.settimeout(limit + 15)
            try:
                resp = read_response(s)
            except socket.timeout:
                return
            cut[s] = (time.monotonic(), resp)

        watchers = [threading.Thread(target=watch, args=(s,), daemon=True) for s in conns]
        for t in watchers:
            t.start()
        for t in watchers:
            t.join(limit + 30)
        assert len(cut) == len(conns), \
            "%d of %d slow %s clients still connected %d s after they stalled (client " \
            "timeout %d s)" % (len(conns) - len(cut), len(conns), kind, limit + 15, limit)
        for s, (at, resp) in cut.items():
            t_conn, sent = conns[s]
            assert resp is None or resp[0] == 408, "slow %s client got %r" % (kind, resp)
            assert at - t_conn >= limit - 0.2 and at - sent <= limit + 10, \
                "cut off %.1f s after stalling (client timeout %d s)" % (at - sent, limit)
        # The answer and the idle scoreboard above were seen while all of them stalled.
        assert checked < min(at for at, _ in cut.values()), \
            "the normal request was only answered after the slow clients were cut off"
    finally:
        for s in conns:
            s.close()
    with open(stack.log_path(), encoding="utf-8") as f:
        f.seek(log0)
        reached = [json.loads(line) for line in f if '"event":"request"' in line]
    assert [x for x in reached if x["path"] == path.decode()] == [], \
        "a stalled request reached appd"
    assert requests.get(base_url + "/healthz", timeout=10).status_code == 200
