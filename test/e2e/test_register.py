"""Scenario 1 through Nginx: SMS code, registration, every error slug, limits and races."""
import concurrent.futures
import json
import os
import time

from util import (assert_envelope_error, assert_envelope_ok, outbox_codes, random_phone,
                  request_code, wrong_code)


def test_seed_request_shape_end_to_end(http, base_url):
    phone = random_phone()
    r = http.post(base_url + "/users/code", json={"phone": phone})
    data = assert_envelope_ok(r)
    assert data == {"expires_in": 300}
    code = outbox_codes(phone)[-1]
    assert len(code) == 6 and code.isdigit()
    assert code not in r.text
    r = http.post(base_url + "/users/regist",
                  json={"phone": phone, "password": "demo123456", "code": code})
    data = assert_envelope_ok(r, 201)
    assert isinstance(data["user_id"], int) and data["user_id"] > 0
    assert data["phone"] == phone[:3] + "****" + phone[7:]
    assert set(data) == {"user_id", "phone"}


def test_outbox_line_shape(http, base_url):
    phone = random_phone()
    request_code(http, base_url, phone)
    with open(os.environ["APPD_SMS_OUTBOX"], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    row = [r for r in rows if r["phone"] == phone][-1]
    assert set(row) == {"phone", "code", "ts"}
    assert abs(row["ts"] - time.time()) < 60


def test_form_encoded_and_the_register_alias(http, base_url):
    phone = random_phone()
    r = http.post(base_url + "/users/code", data={"phone": phone})
    assert_envelope_ok(r)
    code = outbox_codes(phone)[-1]
    r = http.post(base_url + "/users/register",
                  data={"phone": phone, "password": "pass word+&=", "code": code})
    assert assert_envelope_ok(r, 201)["phone"] == phone[:3] + "****" + phone[7:]


def test_resend_too_soon_is_rate_limited(http, base_url):
    phone = random_phone()
    request_code(http, base_url, phone)
    r = http.post(base_url + "/users/code", json={"phone": phone})
    assert_envelope_error(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert len(outbox_codes(phone)) == 1


def test_bad_bodies_are_invalid_json(http, base_url):
    for path in ("/users/code", "/users/regist"):
        for body in (b"", b"garbage", b"[]", b'["phone"]', b'{"phone": "188', b"null",
                     b'"18866668888"', b"{}{}", b"\xff\xfe", b'{"phone":"1\xc0\xaf"}'):
            r = http.post(base_url + path, data=body, headers={"Content-Type": "application/json"})
            assert_envelope_error(r, 400, "invalid_json")
        r = http.post(base_url + path, data=b"phone=%zz",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert_envelope_error(r, 400, "invalid_json")


def test_wrong_content_type_is_415(http, base_url):
    for ct in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        r = http.post(base_url + "/users/code", data=b'{"phone":"18866668888"}',
                      headers={"Content-Type": ct})
        assert_envelope_error(r, 415, "unsupported_media_type")
    r = http.post(base_url + "/users/code", data=b'{"phone":"18866668888"}',
                  headers={"Content-Type": ""})
    assert_envelope_error(r, 415, "unsupported_media_type")


def test_body_over_the_app_limit_is_413(http, base_url):
    body = json.dumps({"phone": random_phone(), "pad": "x" * (70 * 1024)})
    r = http.post(base_url + "/users/code", data=body,
                  headers={"Content-Type": "application/json"})
    assert_envelope_error(r, 413, "payload_too_large")


def test_missing_or_non_string_fields(http, base_url):
    phone = random_phone()
    cases = [
        ("/users/code", {}),
        ("/users/code", {"phone": 18866668888}),
        ("/users/code", {"phone": None}),
        ("/users/code", {"phone": ["18866668888"]}),
        ("/users/regist", {"phone": phone, "password": "demo123456"}),
        ("/users/regist", {"phone": phone, "code": "123456"}),
        ("/users/regist", {"password": "demo123456", "code": "123456"}),
        ("/users/regist", {"phone": phone, "password": 12345678, "code": "123456"}),
        ("/users/regist", {"phone": phone, "password": "demo123456", "code": 123456}),
    ]
    for path, body in cases:
        assert_envelope_error(http.post(base_url + path, json=body), 400, "missing_field")


def test_invalid_phones(http, base_url):
    for phone in ("1886666888", "188666688889", "28866668888", "12866668888",
                  "18866668888\n", " 18866668888", "18866668888 ", "+8618866668888",
                  "1886666888a", "", "１8866668888", "18866668888' OR '1'='1",
                  "18866668888\u0000"):
        r = http.post(base_url + "/users/code", json={"phone": phone})
        assert_envelope_error(r, 400, "invalid_phone")
        r = http.post(base_url + "/users/regist",
                      json={"phone": phone, "password": "demo123456", "code": "123456"})
        assert_envelope_error(r, 400, "invalid_phone")


def test_invalid_passwords(http, base_url):
    phone = random_phone()
    for pw in ("", "short", "1234567", "x" * 129, "密码密码密码密"):
        r = http.post(base_url + "/users/regist",
                      json={"phone": phone, "password": pw, "code": "123456"})
        assert_envelope_error(r, 400, "invalid_password")


def test_malformed_codes_are_invalid_code(http, base_url):
    phone = random_phone()
    for code in ("", "12345", "1234567", "12345a", "12345'", "１23456", " 12345"):
        r = http.post(base_url + "/users/regist",
                      json={"phone": phone, "password": "demo123456", "code": code})
        assert_envelope_error(r, 400, "invalid_code")


def test_without_any_code_issued_is_invalid_code(http, base_url):
    r = http.post(base_url + "/users/regist",
                  json={"phone": random_phone(), "password": "demo123456", "code": "123456"})
    assert_envelope_error(r, 400, "invalid_code")


def test_code_is_single_use(http, base_url):
    phone = random_phone()
    code = request_code(http, base_url, phone)
    body = {"phone": phone, "password": "demo123456", "code": code}
    assert_envelope_ok(http.post(base_url + "/users/regist", json=body), 201)
    assert_envelope_error(http.post(base_url + "/users/regist", json=body), 400, "invalid_code")


def test_five_wrong_codes_lock_the_code(http, base_url):
    phone = random_phone()
    code = request_code(http, base_url, phone)
    for _ in range(5):
        r = http.post(base_url + "/users/regist",
                      json={"phone": phone, "password": "demo123456", "code": wrong_code(code)})
        assert_envelope_error(r, 400, "invalid_code")
    r = http.post(base_url + "/users/regist",
                  json={"phone": phone, "password": "demo123456", "code": code})
    assert_envelope_error(r, 429, "too_many_attempts")


def test_hostile_and_non_ascii_values_never_500(http, base_url):
    phone = random_phone()
    code = request_code(http, base_url, phone)
    password = "p'; DROP TABLE users;--密码😀\"\\<script>"
    r = http.post(base_url + "/users/regist",
                  json={"phone": phone, "password": password, "code": code,
                        "extra": {"nested": ["\u0000", "'"]}, "手机": "😀"})
    assert_envelope_ok(r, 201)
    for body in ({"phone": "😀" * 11}, {"phone": "1' OR 1=1"}, {"phone": "\u202e18866668888"},
                 {"phone": "18866668888", "phone2": "x" * 1000}):
        r = http.post(base_url + "/users/code", json=body)
        assert r.status_code < 500, r.text
    assert http.get(base_url + "/healthz").status_code == 200


def test_password_never_in_response_or_logs(http, base_url, stack):
    phone = random_phone()
    code = request_code(http, base_url, phone)
    password = "Zebra-Secret-" + phone
    r = http.post(base_url + "/users/regist",
                  json={"phone": phone, "password": password, "code": code})
    assert_envelope_ok(r, 201)
    assert password not in r.text and code not in r.text
    # A failing attempt with another secret must not leak either.
    r = http.post(base_url + "/users/regist",
                  json={"phone": phone, "password": password + "2", "code": "000000"})
    assert r.status_code == 400
    time.sleep(0.3)
    logdir = os.path.join(stack.dir, "log")
    for name in os.listdir(logdir):
        if name == "sms.jsonl":
            continue
        with open(os.path.join(logdir, name), "rb") as f:
            text = f.read()
        assert password.encode() not in text, name
        assert b'"%s"' % code.encode() not in text, name


def test_twenty_concurrent_registrations_of_one_phone(http, base_url):
    phone = random_phone()
    code = request_code(http, base_url, phone)
    body = {"phone": phone, "password": "demo123456", "code": code}

    def register(_):
        import requests
        return requests.post(base_url + "/users/regist", json=body, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(register, range(20)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(201) == 1, statuses
    for r in results:
        if r.status_code != 201:
            assert r.status_code in (400, 409), r.text
            assert r.json()["error"] in ("invalid_code", "phone_taken")


def test_fifty_concurrent_registrations_of_distinct_phones(http, base_url):
    phones = [random_phone() for _ in range(50)]
    codes = {p: request_code(http, base_url, p) for p in phones}

    def register(phone):
        import requests
        return requests.post(base_url + "/users/regist", timeout=120,
                             json={"phone": phone, "password": "demo123456", "code": codes[phone]})

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(register, phones))
    assert [r.status_code for r in results] == [201] * 50, [r.text for r in results if r.status_code != 201]
    ids = {r.json()["data"]["user_id"] for r in results}
    assert len(ids) == 50
