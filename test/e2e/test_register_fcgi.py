"""Scenario 1 at the FastCGI level against a second appd with test settings: expiry, phone_taken,
the address cap, and the HTTP SMS gateway sender against a stub gateway started here."""
import http.server
import json
import random
import threading
import time

import pytest

from fcgi_client import DirectAppd
from util import outbox_codes, random_phone


def register(appd, phone, code, password="demo123456", **kw):
    return appd.request("POST", "/users/regist",
                        {"phone": phone, "password": password, "code": code}, **kw)


def get_code(appd, phone, **kw):
    r = appd.request("POST", "/users/code", {"phone": phone}, **kw)
    assert r.status == 200, r.body
    return outbox_codes(phone)[-1]


@pytest.fixture
def fast_appd():
    appd = DirectAppd(APPD_CODE_TTL=2, APPD_CODE_RESEND=0)
    yield appd
    appd.close()


def test_expired_code_is_invalid(fast_appd):
    phone = random_phone()
    code = get_code(fast_appd, phone)
    time.sleep(3)
    r = register(fast_appd, phone, code)
    assert r.status == 400 and r.json()["error"] == "invalid_code"


def test_new_code_supersedes_the_old_one(fast_appd):
    phone = random_phone()
    old = get_code(fast_appd, phone)
    new = get_code(fast_appd, phone)
    if old != new:
        r = register(fast_appd, phone, old)
        assert r.status == 400 and r.json()["error"] == "invalid_code"
    assert register(fast_appd, phone, new).status == 201


def test_phone_taken_keeps_the_code_usable(fast_appd):
    phone = random_phone()
    assert register(fast_appd, phone, get_code(fast_appd, phone)).status == 201
    code = get_code(fast_appd, phone)
    r = register(fast_appd, phone, code)
    assert r.status == 409
    assert r.json() == {"code": 409, "msg": r.json()["msg"], "error": "phone_taken"}
    # The conflict rolled back: the code was not consumed.
    r = register(fast_appd, phone, code)
    assert r.status == 409


def test_client_address_cap():
    appd = DirectAppd(APPD_CODE_ADDR_MAX=3, APPD_CODE_RESEND=0)
    try:
        # An address no other test uses (the database lives for the whole run).
        addr = "2001:db8::%x" % random.getrandbits(48)
        for _ in range(3):
            assert appd.request("POST", "/users/code", {"phone": random_phone()},
                                remote_addr=addr).status == 200
        r = appd.request("POST", "/users/code", {"phone": random_phone()}, remote_addr=addr)
        assert r.status == 429 and r.json()["error"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 3600
        # Another address is not affected.
        assert appd.request("POST", "/users/code", {"phone": random_phone()},
                            remote_addr="2001:db8::%x" % random.getrandbits(48)).status == 200
    finally:
        appd.close()


class Gateway(http.server.BaseHTTPRequestHandler):
    received = []
    mode = "ok"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Gateway.mode == "slow":
            time.sleep(2)
        Gateway.received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(500 if Gateway.mode == "fail" else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Gateway.received.clear()
    Gateway.mode = "ok"
    appd = DirectAppd(APPD_SMS_URL="http://127.0.0.1:%d/send" % server.server_port,
                      APPD_SMS_TIMEOUT_MS=500)
    yield appd
    appd.close()
    server.shutdown()


def test_gateway_sender_delivers_and_code_works(gateway):
    phone = random_phone()
    r = gateway.request("POST", "/users/code", {"phone": phone})
    assert r.status == 200
    ctype, sent = Gateway.received[-1]
    assert ctype == "application/json"
    assert sent["phone"] == phone and len(sent["code"]) == 6
    assert outbox_codes(phone) == []
    assert register(gateway, phone, sent["code"]).status == 201


@pytest.mark.parametrize("mode", ["fail", "slow"])
def test_failed_gateway_is_503_and_leaves_no_usable_code(gateway, mode):
    phone = random_phone()
    Gateway.mode = mode
    t0 = time.monotonic()
    r = gateway.request("POST", "/users/code", {"phone": phone})
    assert time.monotonic() - t0 < 5
    assert r.status == 503 and r.json()["error"] == "unavailable"
    if mode == "fail":
        code = Gateway.received[-1][1]["code"]
        r = register(gateway, phone, code)
        assert r.status == 400 and r.json()["error"] == "invalid_code"
        assert '"%s"' % code not in gateway.log_text()
    # Nothing was recorded: no throttle either, a new code is issued at once.
    Gateway.mode = "ok"
    assert gateway.request("POST", "/users/code", {"phone": phone}).status == 200
