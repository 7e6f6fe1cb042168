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
