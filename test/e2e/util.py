"""Helpers shared by the end-to-end tests: envelope assertions, polling, test data."""
import random
import time

def wait_for(predicate, timeout=10.0, interval=0.1):
    """Poll predicate until it returns a truthy value or timeout passes; returns the last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


def random_phone():
    return "1" + random.choice("3456789") + "".join(random.choice("0123456789") for _ in range(9))


def assert_envelope_error(resp, status, slug):
    """The contract's failure envelope: status, JSON content type, code == status, the slug."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8", resp.headers
    body = resp.json()
    assert body["code"] == status
    assert body["error"] == slug
    assert isinstance(body["msg"], str) and body["msg"]
    assert set(body) == {"code", "msg", "error"}
    return body


def assert_envelope_ok(resp, status=200):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    body = resp.json()
    assert body["code"] == 0 and body["msg"] == "ok", body
    assert isinstance(body["data"], dict)
    return body["data"]


def outbox_codes(phone):
    """Every code the outbox sender wrote for phone, oldest first."""
    import json
    import os
    path = os.environ["APPD_SMS_OUTBOX"]
    try:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
    return [r["code"] for r in rows if r["phone"] == phone]


def request_code(http, base_url, phone):
    """Ask for a code through Nginx and read it back from the outbox."""
    before = len(outbox_codes(phone))
    r = http.post(base_url + "/users/code", json={"phone": phone})
    assert r.status_code == 200, r.text
    codes = outbox_codes(phone)
    assert len(codes) == before + 1
    return codes[-1]


def wrong_code(code):
    return "%06d" % ((int(code) + 1) % 1000000)


# ---------------------------------------------------------------- login, sessions, H5 pages

TOKEN_RE = r"[A-Za-z0-9_-]{43}"
# Home-page tickets are signed (uid, expiry, nonce, HMAC): 65 bytes of base64url.
TICKET_RE = r"[A-Za-z0-9_-]{87}"
ISO_UTC_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def masked(phone):
    return phone[:3] + "****" + phone[7:]


def no_cookie_session():
    """A requests session that never stores a cookie: every cookie a test sends, it sends itself."""
    import http.cookiejar
    import requests
    s = requests.Session()
    s.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return s


def register_user(http, base_url, password=None):
    """Register a new user through Nginx; returns {"phone", "password", "id"}."""
    phone = random_phone()
    password = password or "pw-" + phone + "-x"
    code = request_code(http, base_url, phone)
    r = http.post(base_url + "/users/regist",
                  json={"phone": phone, "password": password, "code": code})
    data = assert_envelope_ok(r, 201)
    return {"phone": phone, "password": password, "id": data["user_id"]}


def login(http, base_url, phone, password):
    """A JSON login that must succeed; returns its data object."""
    r = http.post(base_url + "/users/login", json={"phone": phone, "password": password})
    return assert_envelope_ok(r)


def parse_set_cookie(value):
    """One Set-Cookie header value -> (name, value, {lower-case attribute: value or True})."""
    parts = [p.strip() for p in value.split(";")]
    name, sep, val = parts[0].partition("=")
    assert sep, value
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, sep, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if sep else True
    return name.strip(), val.strip(), attrs


def set_cookies(resp):
    """Every Set-Cookie header of a requests response, unjoined."""
    return resp.raw.headers.getlist("Set-Cookie")


def assert_session_cookie(header, max_age=None):
    """The H5 session cookie as the contract sets it; returns the cookie's value."""
    import re
    name, value, attrs = parse_set_cookie(header)
    assert name == "__Host-sid", header
    # RFC 6265 cookie-octets only, and not empty.
    assert re.fullmatch(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+", value), header
    assert attrs.get("path") == "/", header
    assert "domain" not in attrs, header          # __Host- forbids it
    assert attrs.get("httponly") is True, header
    assert attrs.get("secure") is True, header
    assert str(attrs.get("samesite", "")).lower() == "lax", header
    assert re.fullmatch(r"[0-9]+", str(attrs.get("max-age", ""))), header
    assert int(attrs["max-age"]) > 0, header
    if max_age is not None:
        assert int(attrs["max-age"]) == max_age, header
    return value


def flip_char(s, i):
    """s with the character at i replaced by another base64url character."""
    c = s[i]
    return s[:i] + ("B" if c != "B" else "C") + s[i + 1:]


class _Page:
    """What the tests need from an HTML page: elements by id (tag, attributes, text) and all tags."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self, text):
        from html.parser import HTMLParser
        page = self
        self.by_id = {}
        self.tags = []          # (tag, attrs) in document order
        stack = []              # [tag, element dict or None]

        class P(HTMLParser):
            def handle_starttag(self, tag, attrs):
                a = {k: (v if v is not None else "") for k, v in attrs}
                page.tags.append((tag, a))
                el = None
                if "id" in a:
                    el = {"tag": tag, "attrs": a, "text": ""}
                    assert a["id"] not in page.by_id, "duplicate id %r" % a["id"]
                    page.by_id[a["id"]] = el
                if tag not in _Page.VOID:
                    stack.append([tag, el])

            def handle_startendtag(self, tag, attrs):
                self.handle_starttag(tag, attrs)
                if tag not in _Page.VOID and stack:
                    stack.pop()

            def handle_endtag(self, tag):
                for i in range(len(stack) - 1, -1, -1):
                    if stack[i][0] == tag:
                        del stack[i:]
                        break

            def handle_data(self, data):
                for _, el in stack:
                    if el is not None:
                        el["text"] += data

        p = P(convert_charrefs=True)
        p.feed(text)
        p.close()

    def text(self, id_):
        assert id_ in self.by_id, "no element with id=%r" % id_
        return " ".join(self.by_id[id_]["text"].split())

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse_html(text):
    return _Page(text)


def assert_html_page(resp, status, no_script=False):
    """An H5 page: status, exact HTML type, a strict CSP (and, if asked, no <script at all)."""
    assert resp.status_code == status, (resp.status_code, resp.text[:2000])
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8", resp.headers
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp, resp.headers
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    if no_script:
        assert "<script" not in resp.text.lower(), resp.text
    return parse_html(resp.text)


# ---------------------------------------------------------------- the stack's database

def db_backend():
    """"mysql" when the stack runs MariaDB (APPD_DATABASE_URL mysql://...), else "postgresql"."""
    import os
    url = os.environ["APPD_DATABASE_URL"]
    return "mysql" if url.startswith(("mysql://", "mariadb://")) else "postgresql"


def mysql_client(tool="mariadb"):
    """(argv, database, env) to run a MariaDB client tool as the URL's user. The URL syntax
    is lib/store_my.c's: mysql://[user[:password]@][host][:port]/database[?socket=path]."""
    import os
    from urllib.parse import parse_qs, unquote, urlsplit
    u = urlsplit(os.environ["APPD_DATABASE_URL"])
    argv = [tool, "--no-defaults"]
    env = dict(os.environ)
    if u.username:
        argv.append("--user=" + unquote(u.username))
    if u.password:
        env["MYSQL_PWD"] = unquote(u.password)
    if u.hostname in (None, "", "localhost"):
        argv.append("--protocol=socket")
        sock = parse_qs(u.query).get("socket")
        if sock:
            argv.append("--socket=" + sock[0])
    else:
        argv += ["--protocol=tcp", "--host=" + u.hostname]
        if u.port:
            argv.append("--port=%d" % u.port)
    return argv, unquote(u.path.lstrip("/")), env


def psql(sql):
    """One query against the stack's database as the app user; returns the output as
    `psql -tA` prints it (a row per line, columns joined by |, NULL as nothing). On MariaDB
    the mariadb client runs it, in UTC like appd's sessions."""
    import os
    import subprocess
    if db_backend() == "mysql":
        argv, db, env = mysql_client()
        out = subprocess.run(argv + ["-N", "-B", "-e", "SET time_zone = '+00:00'; " + sql, db],
                             env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return "\n".join("|".join("" if c == "NULL" else c for c in line.split("\t"))
                         for line in out.stdout.strip("\n").split("\n")).strip()
    out = subprocess.run(["psql", os.environ["APPD_DATABASE_URL"], "-X", "-tAc", sql],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def sql_epoch(col):
    """SQL for column col as seconds since the epoch, in the stack's dialect."""
    return "unix_timestamp(%s)" % col if db_backend() == "mysql" else "extract(epoch from %s)" % col


def db_dump():
    """Every row of the stack's database as SQL text (bytes); binary columns as lowercase hex."""
    import os
    import re
    import subprocess
    if db_backend() == "mysql":
        argv, db, env = mysql_client("mariadb-dump")
        out = subprocess.run(argv + ["--no-create-info", "--hex-blob", "--skip-extended-insert",
                                     db], env=env, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return re.sub(rb"0x[0-9A-F]+", lambda m: b"0x" + m.group(0)[2:].lower(), out.stdout)
    out = subprocess.run(["pg_dump", "--data-only", os.environ["APPD_DATABASE_URL"]],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


# ---------------------------------------------------------------- uploads

def login_user(http, base_url):
    """Register a new user and log in through Nginx; returns (token, phone, password)."""
    u = register_user(http, base_url)
    data = login(http, base_url, u["phone"], u["password"])
    return data["token"], u["phone"], u["password"]


# Debian's ImageMagick itself: a `convert` earlier on PATH may be a wrapper that changes images.
CONVERT = "/usr/bin/convert" if __import__("os").path.exists("/usr/bin/convert") else "convert"
IDENTIFY = "/usr/bin/identify" if __import__("os").path.exists("/usr/bin/identify") else "identify"

IMAGE_FIELDS = {"id", "url", "thumb_url", "width", "height", "format", "bytes", "sha256"}
IMAGE_EXT = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp"}
IMAGE_TYPE = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


def magick(*args, stdin=None, tool=None):
    """Run ImageMagick (convert unless tool says otherwise); returns its stdout bytes."""
    import subprocess
    out = subprocess.run([tool or CONVERT, *args], input=stdin, capture_output=True, timeout=120)
    assert out.returncode == 0, (args, out.stderr.decode(errors="replace"))
    return out.stdout


def make_image(fmt, width=64, height=48, seed=None, extra=()):
    """A new image (fmt: jpeg, png, gif, webp, bmp, tiff...) of a random plasma, different every call."""
    import random
    seed = random.randrange(1, 2**31) if seed is None else seed
    return magick("-seed", str(seed), "-size", "%dx%d" % (width, height), "plasma:", *extra,
                  "%s:-" % fmt)


def identify(data):
    """[(FORMAT, width, height)] for every frame of the image bytes."""
    out = magick("-format", "%m %w %h\\n", "-", stdin=data, tool=IDENTIFY).decode()
    frames = []
    for line in out.splitlines():
        if line.strip():
            m, w, h = line.split()
            frames.append((m, int(w), int(h)))
    assert frames, out
    return frames


def image_dir():
    import os
    return os.environ["APPD_IMAGE_DIR"]


def list_files(root):
    """Every non-directory under root, as paths relative to it."""
    import os
    found = set()
    for d, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            found.add(os.path.relpath(os.path.join(d, name), root))
    return found


def images_rows():
    return int(psql("select count(*) from images"))


def storage_snapshot(root=None):
    """(files under the image dir, rows in images): compare before and after an upload."""
    return (list_files(root or image_dir()), images_rows())


def assert_nothing_new(before, root=None):
    """No file and no row added since storage_snapshot() gave before."""
    files, rows = storage_snapshot(root)
    assert files - before[0] == set(), "files left behind: %r" % sorted(files - before[0])
    assert rows == before[1], "rows in images: %d before, %d after" % (before[1], rows)


def multipart(parts, boundary=None):
    """A multipart/form-data body from [(name, filename or None, content type or None, bytes)];
    returns (body, content type header)."""
    import os
    boundary = boundary or "----e2e" + os.urandom(12).hex()
    out = []
    for name, filename, ctype, data in parts:
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        head = "--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp)
        if ctype:
            head += "Content-Type: %s\r\n" % ctype
        out.append(head.encode() + b"\r\n" + data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


# ---------------------------------------------------------------- process manager, metrics

def parse_metrics(text):
    """Prometheus text format -> [(name, {label: value}, float)]; comment lines are skipped."""
    import re
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)$')
    label = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = sample.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        labels, rest = {}, m.group(2) or ""
        while rest:
            lm = label.match(rest)
            assert lm, "bad labels in %r" % line
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric_samples(samples, name, **labels):
    """The samples of one metric whose labels include every given label=value."""
    return [(lb, v) for n, lb, v in samples
            if n == name and all(lb.get(k) == str(val) for k, val in labels.items())]


def metric(samples, name, **labels):
    """Sum of the matching samples' values (0 when none matches)."""
    return sum(v for _, v in metric_samples(samples, name, **labels))


class FcgiResult:
    """What cgi-fcgi printed for one request: status None when the app sent nothing."""

    def __init__(self, raw, returncode, elapsed):
        import json
        self.raw, self.returncode, self.elapsed = raw, returncode, elapsed
        self.headers, self.status, self.body = {}, None, b""
        head, sep, body = raw.partition(b"\r\n\r\n")
        if sep:
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                self.headers[name.strip()] = value.strip()
            self.status = int(self.headers.get("Status", "200").split()[0])
            self.body = body
        self._json = json

    def json(self):
        return self._json.loads(self.body)

    def __repr__(self):
        return "FcgiResult(status=%r, rc=%r, %.3fs, %r)" % (self.status, self.returncode,
                                                           self.elapsed, self.raw[:300])


def fcgi_call(address, path="/healthz", method="GET", params=None, body=b"", timeout=30,
              rid=None):
    """One FastCGI request with Debian's cgi-fcgi, Nginx-style parameters (query string split
    off the path); params adds or overrides parameters (e.g. REQUEST_START)."""
    import os
    import subprocess
    import time
    uri, _, query = path.partition("?")
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": uri, "SCRIPT_NAME": uri,
           "REQUEST_URI": path, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
           "REQUEST_ID": rid or "fcgi-" + os.urandom(8).hex(),
           "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1",
           "REQUEST_SCHEME": "https"}
    env.update(params or {})
    t0 = time.monotonic()
    out = subprocess.run(["/usr/bin/cgi-fcgi", "-bind", "-connect", address], input=body,
                         env=env, capture_output=True, timeout=timeout)
    return FcgiResult(out.stdout, out.returncode, time.monotonic() - t0)


def fcgi_metrics(address):
    """GET /metrics at the FastCGI level, parsed (a worker or the metrics process answers)."""
    r = fcgi_call(address, "/metrics")
    assert r.status == 200, r
    return parse_metrics(r.body.decode())


def child_pids(pid):
    """Direct children of pid, from /proc (empty once pid is gone)."""
    import glob
    kids = set()
    for f in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(f) as fh:
                kids.update(int(p) for p in fh.read().split())
        except OSError:
            pass
    return sorted(kids)


def proc_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def stop_direct(appd, kids):
    """Stop a DirectAppd, then SIGKILL any of kids (its workers, as seen while it ran, plus
    those it has now) that outlived it."""
    import os
    import signal
    kids = set(kids) | set(child_pids(appd.proc.pid))
    try:
        appd.close()
    except Exception:
        appd.proc.kill()
        appd.proc.wait(5)
    for pid in kids:
        if proc_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def proc_status(pid):
    """/proc/PID/status as {field: value string}."""
    with open("/proc/%d/status" % pid) as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def free_port():
    """A loopback TCP port nothing listens on right now (IPv4 and, where present, IPv6)."""
    import socket
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        try:
            s6 = socket.socket(socket.AF_INET6)
            s6.bind(("::1", port))
            s6.close()
        except OSError as e:
            if e.errno == 98:       # EADDRINUSE on ::1: try another
                continue
        return port


def parse_wrk(text):
    """wrk's report -> {"requests", "non2xx", "socket_errors"}."""
    import re
    m = re.search(r"(\d+) requests in ", text)
    assert m, text
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {"requests": int(m.group(1)), "non2xx": int(non.group(1)) if non else 0,
            "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0}


def fcgi_connect(address):
    """A raw connection to a unix FastCGI socket (nothing sent yet)."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(address)
    return s


def fcgi_send_request(sock, path="/healthz", method="GET", params=None, request_id=1):
    """Writes one complete FastCGI RESPONDER request (no body) on a connected socket."""
    import struct

    def record(rtype, content):
        pad = (8 - len(content) % 8) % 8
        return struct.pack(">BBHHBB", 1, rtype, request_id, len(content), pad, 0) + content \
            + b"\0" * pad

    def length(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)

    uri, _, query = path.partition("?")
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": uri, "SCRIPT_NAME": uri,
           "REQUEST_URI": path, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
           "CONTENT_LENGTH": "0", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "https"}
    env.update(params or {})
    pairs = b"".join(length(len(k.encode())) + length(len(v.encode())) + k.encode() + v.encode()
                     for k, v in env.items())
    sock.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, pairs) + record(4, b"")
                 + record(5, b""))


def fcgi_read_response(sock):
    """Reads records until END_REQUEST or EOF; returns (stdout bytes, ended cleanly)."""
    import struct
    buf, out = b"", b""
    while True:
        while len(buf) >= 8:
            _, rtype, _, clen, pad, _ = struct.unpack(">BBHHBB", buf[:8])
            if len(buf) < 8 + clen + pad:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + pad:]
            if rtype == 6:
                out += content
            elif rtype == 3:
                return out, True
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            return out, False
        buf += chunk
