"""Deployment for real (issue 6): the pool under Debian's supervisord with the private
configuration scripts/supervisord.conf.in ([fcgi-program] bare workers, and [program:appd-spawn]),
and under spawn-fcgi -n via scripts/spawn-fcgi.sh; each hit through a second Nginx rendered by
scripts/nginx-conf in front of that socket, then stopped with nothing left running."""
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile

import pytest
import requests

from util import (child_pids, fcgi_call, free_port, metric, parse_metrics, proc_alive,
                  wait_for)

ROOT = os.environ.get("ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

NUMPROCS = 2


def appd_settings():
    """The stack's settings for appd, minus what points at the stack's own sockets and log."""
    env = {k: v for k, v in os.environ.items() if k.startswith("APPD_")}
    for k in ("APPD_SOCKET", "APPD_METRICS_SOCKET", "APPD_LOG_FILE", "APPD_BIN",
              "APPD_WORKERS", "APPD_BARE_WORKER", "APPD_SOCKET_MODE", "APPD_SOCKET_GROUP",
              "APPD_SOCKET_USER"):
        env.pop(k, None)
    return env


class Cleanup:
    """Stops what a test started, newest first, whatever happened; then SIGKILLs any
    recorded pid that is still alive."""

    def __init__(self):
        self.steps, self.pids = [], set()

    def add(self, fn):
        self.steps.append(fn)

    def run(self):
        for fn in reversed(self.steps):
            try:
                fn()
            except Exception:
                pass
        for pid in self.pids:
            if proc_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def cleanup():
    c = Cleanup()
    yield c
    c.run()


@pytest.fixture
def workdir():
    # Nginx's workers (www-data) must reach the socket: mkdtemp makes 0700 directories.
    d = tempfile.mkdtemp(prefix="appd-deploy-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def stop_popen(proc, sig=signal.SIGTERM, timeout=15):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Nginx:
    """A private Nginx from scripts/nginx-conf in front of one FastCGI socket (also for
    /metrics: no metrics socket), with the stack's certificate, on two free ports."""

    def __init__(self, workdir, fcgi_socket, cleanup):
        self.prefix = os.path.join(workdir, "nginx")
        self.logs = os.path.join(workdir, "nginx-log")
        os.makedirs(self.prefix)
        os.makedirs(self.logs)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.http_port, self.https_port = free_port(), free_port()
        while self.https_port == self.http_port:
            self.https_port = free_port()
        stack_dir = os.environ["STACK_DIR"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPD_")}
        env.update(NGINX_PREFIX=self.prefix, LOG_DIR=self.logs, HTTP_PORT=str(self.http_port),
                   HTTPS_PORT=str(self.https_port), APPD_SOCKET=fcgi_socket,
                   IMAGES_DIR=os.environ.get("IMAGES_DIR") or os.path.join(stack_dir, "images"),
                   TLS_DIR=os.path.join(stack_dir, "tls"), NGINX_WORKERS="1")
        out = subprocess.run([os.path.join(ROOT, "scripts", "nginx-conf"), self.conf], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        conf = open(self.conf).read()
        assert "unix:%s;" % fcgi_socket in conf and "metrics.sock" not in conf
        self.base = "https://localhost:%d" % self.https_port
        cleanup.add(self.stop)
        self.run("-t", "-q")
        self.run()
        self.pid = int(open(os.path.join(self.prefix, "nginx.pid")).read())
        self.workers = child_pids(self.pid)
        cleanup.pids.update([self.pid, *self.workers])

    def run(self, *args):
        out = subprocess.run(["nginx", "-p", self.prefix + "/", "-c", self.conf, "-e",
                              os.path.join(self.logs, "nginx-error.log"), *args],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr

    def get(self, path, **kw):
        return requests.get(self.base + path, timeout=10, **kw)

    def stop(self):
        if not os.path.exists(os.path.join(self.prefix, "nginx.pid")):
            return
        pid = int(open(os.path.join(self.prefix, "nginx.pid")).read())
        self.run("-s", "quit")
        assert wait_for(lambda: not proc_alive(pid), timeout=10), "nginx did not quit"

    def error_log(self):
        try:
            return open(os.path.join(self.logs, "nginx-error.log")).read()
        except FileNotFoundError:
            return ""


def assert_socket_for_nginx(path):
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    import grp
    assert st.st_gid == grp.getgrnam("www-data").gr_gid


def assert_healthz_through(nginx, n=6):
    for _ in range(n):
        r = nginx.get("/healthz")
        assert r.status_code == 200, (r.status_code, r.text, nginx.error_log()[-2000:])
        assert r.json() == {"code": 0, "msg": "ok", "data": {"db": "ok"}}
    r = nginx.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain"), r.text
    parse_metrics(r.text)


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


# ---------------------------------------------------------------- supervisord

def render_supervisord(workdir, numprocs):
    """scripts/supervisord.conf.in with its placeholders filled; returns (conf, fcgi socket,
    spawn socket)."""
    sock = os.path.join(workdir, "appd.sock")
    spawn_sock = os.path.join(workdir, "appd-spawn.sock")
    pairs = "".join(',%s="%s"' % (k, v.replace("%", "%%").replace('"', '\\"'))
                    for k, v in sorted(appd_settings().items()))
    pairs += ',APPD_LOG_FILE="%s"' % os.path.join(workdir, "appd.log")
    text = open(os.path.join(ROOT, "scripts", "supervisord.conf.in")).read()
    for key, value in (("@RUN_DIR@", workdir), ("@SOCKET@", sock),
                       ("@SPAWN_SOCKET@", spawn_sock), ("@NUMPROCS@", str(numprocs)),
                       ("@APPD_BIN@", os.environ["APPD_BIN"]), ("@ROOT@", ROOT),
                       ("@ENVIRONMENT@", pairs)):
        text = text.replace(key, value)
    left = [l for l in text.splitlines() if not l.startswith(";") and re.search(r"@[A-Z_]+@", l)]
    assert left == [], "placeholders left: %r" % left
    conf = os.path.join(workdir, "supervisord.conf")
    with open(conf, "w") as f:
        f.write(text)
    return conf, sock, spawn_sock


def ctl(conf, *args):
    return subprocess.run(["supervisorctl", "-c", conf, *args], capture_output=True, text=True,
                          timeout=30).stdout


def running(conf):
    """{process name: pid} of the processes supervisorctl reports RUNNING."""
    out = {}
    for line in ctl(conf, "status").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
            out[parts[0]] = int(parts[3].rstrip(","))
    return out


@pytest.mark.skipif(shutil.which("supervisord") is None or shutil.which("supervisorctl") is None,
                    reason="supervisord is not installed (scripts/deps installs Debian's supervisor)")
def test_supervisord_runs_the_pool_behind_nginx(workdir, cleanup):
    conf, sock, spawn_sock = render_supervisord(workdir, NUMPROCS)
    # A clean environment: everything appd needs comes from the configuration file.
    sup = subprocess.Popen(["supervisord", "-c", conf], env={"PATH": os.environ["PATH"]},
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    cleanup.add(lambda: stop_popen(sup))
    cleanup.pids.add(sup.pid)
    names = ["appd:appd_%02d" % i for i in range(NUMPROCS)]
    assert wait_for(lambda: set(names) <= set(running(conf)), timeout=15), \
        ctl(conf, "status") + open(os.path.join(workdir, "supervisord.log")).read()
    pids = running(conf)
    workers = [pids[n] for n in names]
    cleanup.pids.update(workers)

    # (a) supervisord's socket, usable by Nginx; every process a bare worker on it.
    assert_socket_for_nginx(sock)
    assert sorted(child_pids(sup.pid)) == sorted(workers)
    bin_ino = os.stat(os.environ["APPD_BIN"]).st_ino
    for pid in workers:
        assert os.stat("/proc/%d/exe" % pid).st_ino == bin_ino
        assert environ_of(pid).get(b"APPD_BARE_WORKER") == b"1"
        assert child_pids(pid) == [], "a bare worker forks nothing"
    assert wait_for(lambda: open(os.path.join(workdir, "appd.log")).read().count(
        "bare worker on inherited socket") == NUMPROCS, timeout=5)

    nginx = Nginx(workdir, sock, cleanup)
    assert_healthz_through(nginx)

    # supervisord replaces a worker that dies; the pool keeps serving on the same socket.
    os.kill(workers[0], signal.SIGKILL)
    assert wait_for(lambda: names[0] in running(conf) and running(conf)[names[0]] != workers[0],
                    timeout=10), ctl(conf, "status")
    cleanup.pids.add(running(conf)[names[0]])
    assert_healthz_through(nginx, n=4)

    # (b) the same file's [program:appd-spawn]: spawn-fcgi -n exec's appd, which manages
    # its own workers on the socket spawn-fcgi bound.
    out = ctl(conf, "stop", "appd:*")
    assert wait_for(lambda: not (set(names) & set(running(conf))), timeout=15), out
    ctl(conf, "start", "appd-spawn")
    assert wait_for(lambda: "appd-spawn" in running(conf), timeout=15), ctl(conf, "status")
    mgr = running(conf)["appd-spawn"]
    cleanup.pids.add(mgr)
    assert os.stat("/proc/%d/exe" % mgr).st_ino == bin_ino, "supervisord watches appd itself"
    assert wait_for(lambda: len(child_pids(mgr)) == NUMPROCS, timeout=10)
    kids = child_pids(mgr)
    cleanup.pids.update(kids)
    assert_socket_for_nginx(spawn_sock)
    assert fcgi_call(spawn_sock, "/healthz").status == 200
    # Zero-downtime reload through supervisorctl: same pid, new workers.
    ctl(conf, "signal", "HUP", "appd-spawn")
    assert wait_for(lambda: "reloaded: new code serving" in open(
        os.path.join(workdir, "appd.log")).read(), timeout=10)
    assert wait_for(lambda: len(child_pids(mgr)) == NUMPROCS and
                    not (set(child_pids(mgr)) & set(kids)), timeout=10), child_pids(mgr)
    cleanup.pids.update(child_pids(mgr))
    assert running(conf).get("appd-spawn") == mgr
    assert fcgi_call(spawn_sock, "/healthz").status == 200
    all_appd = set(cleanup.pids) - {sup.pid, nginx.pid, *nginx.workers}

    # Stop: supervisord stops its programs and exits; nothing is left.
    nginx.stop()
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(timeout=20) == 0
    assert wait_for(lambda: not any(proc_alive(p) for p in all_appd), timeout=5), \
        [p for p in all_appd if proc_alive(p)]
    log = open(os.path.join(workdir, "supervisord.log")).read()
    assert "stopped: appd-spawn (exit status 0)" in log, log


# ---------------------------------------------------------------- spawn-fcgi -n

@pytest.mark.skipif(shutil.which("spawn-fcgi") is None,
                    reason="spawn-fcgi is not installed (scripts/deps installs it)")
def test_spawn_fcgi_runs_appd_behind_nginx(workdir, cleanup):
    sock = os.path.join(workdir, "appd.sock")
    log = os.path.join(workdir, "appd.log")
    env = {"PATH": os.environ["PATH"], **appd_settings()}
    env.update(APPD_BIN=os.environ["APPD_BIN"], APPD_SOCKET=sock, APPD_WORKERS=str(NUMPROCS + 1),
               APPD_LOG_FILE=log)
    proc = subprocess.Popen([os.path.join(ROOT, "scripts", "spawn-fcgi.sh")], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    cleanup.add(lambda: stop_popen(proc))
    cleanup.pids.add(proc.pid)
    # spawn-fcgi -n exec's appd: the process we started is appd's manager.
    assert wait_for(lambda: len(child_pids(proc.pid)) == NUMPROCS + 1 or proc.poll() is not None,
                    timeout=10)
    assert proc.poll() is None, proc.stderr.read()
    assert os.stat("/proc/%d/exe" % proc.pid).st_ino == os.stat(os.environ["APPD_BIN"]).st_ino
    kids = child_pids(proc.pid)
    cleanup.pids.update(kids)
    assert_socket_for_nginx(sock)
    assert "managing workers on inherited socket" in open(log).read()

    nginx = Nginx(workdir, sock, cleanup)
    assert_healthz_through(nginx)
    r = nginx.get("/metrics")
    assert metric(parse_metrics(r.text), "appd_workers_max") == NUMPROCS + 1

    # A second spawn-fcgi on the same socket refuses: something live answers there.
    second = subprocess.run([os.path.join(ROOT, "scripts", "spawn-fcgi.sh")], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert second.returncode != 0
    assert_healthz_through(nginx, n=2)

    nginx.stop()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=12) == 0
    assert wait_for(lambda: not any(proc_alive(p) for p in kids), timeout=5)
    assert "manager stopped" in open(log).read()
