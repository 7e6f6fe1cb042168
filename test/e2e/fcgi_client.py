"""A second appd on its own socket, driven at the FastCGI level with Debian's cgi-fcgi (no Nginx).

Used where a test needs settings the shared stack does not have (short code TTL, no resend
throttle, a tiny address cap, an HTTP SMS gateway) or a client address other than loopback.
"""
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time


class Response:
    def __init__(self, raw):
        head, _, body = raw.partition(b"\r\n\r\n")
        self.headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            self.headers[name.strip()] = value.strip()
        self.status = int(self.headers.get("Status", "200").split()[0])
        self.body = body

    def json(self):
        return json.loads(self.body)


class DirectAppd:
    def __init__(self, **overrides):
        self.tmp = tempfile.mkdtemp(prefix="appd-direct-")
        self.socket = os.path.join(self.tmp, "appd.sock")
        self.log = os.path.join(self.tmp, "appd.log")
        env = {k: v for k, v in os.environ.items() if k.startswith("APPD_") or k in ("PATH", "LANG")}
        env.update(APPD_SOCKET=self.socket, APPD_LOG_FILE=self.log, APPD_WORKERS="2",
                   APPD_SOCKET_GROUP="", APPD_SOCKET_MODE="0600", APPD_METRICS_SOCKET="")
        env.update({k: str(v) for k, v in overrides.items()})
        self.proc = subprocess.Popen([os.environ["APPD_BIN"]], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("direct appd did not start: %s" % self.proc.stderr.read())
            time.sleep(0.05)

    def request(self, method, path, body=b"", content_type="application/json",
                remote_addr="203.0.113.10", timeout=30):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "SCRIPT_NAME": path,
               "REQUEST_URI": path, "REMOTE_ADDR": remote_addr, "REQUEST_ID": "direct-test",
               "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1",
               "REQUEST_SCHEME": "https"}
        if content_type:
            env["CONTENT_TYPE"] = content_type
        out = subprocess.run(["/usr/bin/cgi-fcgi", "-bind", "-connect", self.socket],
                             input=body, env=env, capture_output=True, timeout=timeout)
        return Response(out.stdout)

    def log_text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=15)
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- FastCGI records by hand
# For tests that speak the protocol themselves (garbage, lying lengths, other addresses).

FCGI_BEGIN, FCGI_ABORT, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 2, 3, 4, 5, 6
FCGI_GET_VALUES = 9


def rec(rtype, content=b"", rid=1, version=1, clen=None, pad=None):
    """One record; clen and pad may lie about what follows."""
    real_pad = (8 - len(content) % 8) % 8
    head = struct.pack(">BBHHBB", version, rtype, rid,
                       len(content) if clen is None else clen,
                       real_pad if pad is None else pad, 0)
    return head + content + b"\0" * real_pad


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def nv(name, value):
    name = name.encode() if isinstance(name, str) else name
    value = value.encode() if isinstance(value, str) else value
    return nv_len(len(name)) + nv_len(len(value)) + name + value


def begin(role=1, flags=0, rid=1):
    return rec(FCGI_BEGIN, struct.pack(">HB5x", role, flags), rid)


def params_stream(pairs, rid=1):
    """pairs: a dict or a list of (name, value), str or bytes; cut into records of <= 32 KiB."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    data = b"".join(nv(k, v) for k, v in items)
    out = b"".join(rec(FCGI_PARAMS, data[i:i + 32768], rid) for i in range(0, len(data), 32768))
    return out + rec(FCGI_PARAMS, b"", rid)


def full_request(pairs, body=b"", rid=1):
    stdin = b"".join(rec(FCGI_STDIN, body[i:i + 32768], rid) for i in range(0, len(body), 32768))
    return begin(rid=rid) + params_stream(pairs, rid) + stdin + rec(FCGI_STDIN, b"", rid)


def read_until_closed(sock):
    """Every byte until the peer closes (or resets) the connection."""
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return got
