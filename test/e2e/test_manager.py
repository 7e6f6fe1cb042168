"""The process manager at the FastCGI level: graceful stop with a request in flight, the
spawn-fcgi (-n) and bare-worker modes on an inherited socket, and a TCP listen address."""
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from fcgi_client import DirectAppd, Response, full_request, read_until_closed
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


def fcgi_raw_get(host, port, source, path="/healthz", timeout=10):
    """A GET over FastCGI from source (a local address): the raw reply bytes (b"" when the
    server closed without a word)."""
    payload = full_request({"REQUEST_METHOD": "GET", "DOCUMENT_URI": path, "SCRIPT_NAME": path,
                            "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": "0"})
    s = socket.create_connection((host, port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(payload)
        return read_until_closed(s)
    finally:
        s.close()


def start_tcp_appd(tmp, **extra):
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("APPD_") and k != "APPD_METRICS_SOCKET") or k == "PATH"}
    env.update(APPD_LOG_FILE=os.path.join(tmp, "log"), APPD_WORKERS="2")
    env.update({k: str(v) for k, v in extra.items()})
    return subprocess.Popen([os.environ["APPD_BIN"]], env=env, stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_listening(port, proc):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("appd did not listen on %d" % port)


def test_tcp_beyond_loopback_needs_front_addresses():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tmp = tempfile.mkdtemp(prefix="appd-tcp-")
    appd = start_tcp_appd(tmp, APPD_SOCKET="0.0.0.0:%d" % port, APPD_FRONT_ADDRS="")
    assert appd.wait(timeout=15) == 2
    assert "set APPD_FRONT_ADDRS" in appd.stderr.read()
    appd = start_tcp_appd(tmp, APPD_SOCKET="127.0.0.1:%d" % port,
                          APPD_FRONT_ADDRS="10.0.0.1,front")
    assert appd.wait(timeout=15) == 2
    assert "APPD_FRONT_ADDRS: not an IP address: 'front'" in appd.stderr.read()


def test_tcp_serves_only_the_front_addresses():
    """Listening on every address, appd answers the allowed source address and closes on
    any other one without a byte of answer, and keeps serving."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tmp = tempfile.mkdtemp(prefix="appd-tcp-")
    appd = start_tcp_appd(tmp, APPD_SOCKET="0.0.0.0:%d" % port,
                          APPD_FRONT_ADDRS="127.0.0.2, 10.77.0.2")
    try:
        wait_listening(port, appd)
        for _ in range(3):
            assert fcgi_raw_get("127.0.0.1", port, "127.0.0.3") == b""
            reply = fcgi_raw_get("127.0.0.1", port, "127.0.0.2")
            assert b"Status: 200" in reply and b'"code":0' in reply
        # A stranger is closed right after accept, before a byte is read: no request ever
        # reaches the app from it, and the log says who it was.
        with open(os.path.join(tmp, "log")) as f:
            log = f.read()
        assert log.count('"event":"request"') == 3
        assert log.count("refused a FastCGI connection from 127.0.0.3") == 3
        assert appd.poll() is None
    finally:
        appd.terminate()
        assert appd.wait(timeout=15) == 0


def test_tcp_ipv6_strangers_are_refused_and_logged():
    """IPv6 peers are checked as IPv4 ones are."""
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
    except OSError:
        import pytest
        pytest.skip("no IPv6 loopback here")
    port = probe.getsockname()[1]
    probe.close()
    tmp = tempfile.mkdtemp(prefix="appd-tcp6-")
    appd = start_tcp_appd(tmp, APPD_SOCKET="[::1]:%d" % port, APPD_FRONT_ADDRS="127.0.0.1")
    try:
        deadline = time.monotonic() + 10
        while True:
            assert appd.poll() is None, appd.stderr.read()
            try:
                socket.create_connection(("::1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert fcgi_raw_get("::1", port, "::1") == b""
        with open(os.path.join(tmp, "log")) as f:
            log = f.read()
        assert "refused a FastCGI connection from ::1: not in APPD_FRONT_ADDRS" in log
        assert '"event":"request"' not in log
    finally:
        appd.terminate()
        assert appd.wait(timeout=15) == 0


def test_bad_configuration_stops_startup_naming_the_key():
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("APPD_") and k != "APPD_METRICS_SOCKET") or k == "PATH"}
    env.update(APPD_WORKERS="many")
    out = subprocess.run([os.environ["APPD_BIN"]], env=env, capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2 and "APPD_WORKERS" in out.stderr
