"""The process manager at the FastCGI level: graceful stop with a request in flight, the
spawn-fcgi (-n) and bare-worker modes on an inherited socket, and a TCP listen address."""
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from fcgi_client import DirectAppd, Response
from util import outbox_codes, random_phone


def fcgi_get(address, path="/healthz"):
    env = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": path, "SCRIPT_NAME": path,
           "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": "0"}
    out = subprocess.run(["/usr/bin/cgi-fcgi", "-bind", "-connect", address],
                         env=env, capture_output=True, timeout=30)
    return Response(out.stdout)


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_sigterm_lets_the_request_in_flight_finish():
    # An expensive password hash makes a registration take a while: the request in flight.
    appd = DirectAppd(APPD_CODE_RESEND=0, APPD_PWHASH_OPSLIMIT=12,
                      APPD_PWHASH_MEMLIMIT_KIB=262144)
    try:
        phone = random_phone()
        assert appd.request("POST", "/users/code", {"phone": phone}).status == 200
        code = outbox_codes(phone)[-1]
        result = {}

        def register():
            result["r"] = appd.request("POST", "/users/regist",
                                       {"phone": phone, "password": "demo123456", "code": code})

        t = threading.Thread(target=register)
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        appd.proc.send_signal(signal.SIGTERM)
        assert t.is_alive(), "the request must still be in flight when SIGTERM arrives"
        t.join(30)
        assert result["r"].status == 201, result["r"].body
        assert appd.proc.wait(timeout=15) == 0
        assert time.monotonic() - t0 < 10
        assert not os.path.exists(appd.socket), "the manager removes its socket"
    finally:
        appd.close()


def test_spawn_fcgi_n_hands_the_socket_and_appd_manages_workers():
    tmp = tempfile.mkdtemp(prefix="appd-spawn-")
    sock = os.path.join(tmp, "s.sock")
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("APPD_") and k != "APPD_METRICS_SOCKET") or k == "PATH"}
    env.update(APPD_WORKERS="3", APPD_LOG_FILE=os.path.join(tmp, "log"))
    env.pop("APPD_SOCKET", None)
    proc = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "-M", "0600", "--",
                             os.environ["APPD_BIN"]], env=env)
    try:
        deadline = time.monotonic() + 10
        while len(children(proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        # spawn-fcgi -n exec's appd, which forks its own pool on the inherited fd 0.
        assert len(children(proc.pid)) == 3
        for _ in range(6):
            assert fcgi_get(sock).status == 200
        victim = children(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (victim in children(proc.pid) or len(children(proc.pid)) < 3) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(children(proc.pid)) == 3 and victim not in children(proc.pid)
        assert "managing workers on inherited socket" in open(env["APPD_LOG_FILE"]).read()
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_bare_worker_serves_the_inherited_socket_alone():
    tmp = tempfile.mkdtemp(prefix="appd-bare-")
    sock = os.path.join(tmp, "s.sock")
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("APPD_") and k != "APPD_METRICS_SOCKET") or k == "PATH"}
    env.update(APPD_BARE_WORKER="1", APPD_LOG_FILE=os.path.join(tmp, "log"))
    proc = subprocess.Popen(["spawn-fcgi", "-n", "-s", sock, "--", os.environ["APPD_BIN"]],
                            env=env)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(3):
            assert fcgi_get(sock).status == 200
        assert children(proc.pid) == [], "a bare worker forks nothing"
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_bare_worker_without_a_socket_on_fd0_refuses_to_start():
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("APPD_") and k != "APPD_METRICS_SOCKET") or k == "PATH"}
    env.update(APPD_BARE_WORKER="1", APPD_LOG_FILE="")
    out = subprocess.run([os.environ["APPD_BIN"]], env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "not a listening socket" in out.stderr


def test_tcp_listen_address():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    appd = None
    try:
        appd_env = {"APPD_SOCKET": "127.0.0.1:%d" % port}
        tmp = tempfile.mkdtemp(prefix="appd-tcp-")
        env = {k: v for k, v in os.environ.items()
           if (k.startswith("APPD_") and k != "APPD_METRICS_SOCKET") or k == "PATH"}
        env.update(appd_env, APPD_LOG_FILE=os.path.join(tmp, "log"), APPD_WORKERS="2")
        appd = subprocess.Popen([os.environ["APPD_BIN"]], env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        assert fcgi_get("127.0.0.1:%d" % port).status == 200
    finally:
        if appd:
            appd.terminate()
            assert appd.wait(timeout=15) == 0


def test_bad_configuration_stops_startup_naming_the_key():
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("APPD_") and k != "APPD_METRICS_SOCKET") or k == "PATH"}
    env.update(APPD_WORKERS="many")
    out = subprocess.run([os.environ["APPD_BIN"]], env=env, capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2 and "APPD_WORKERS" in out.stderr
