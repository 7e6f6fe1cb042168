"""Scenario 3 at the FastCGI level against second appds with test settings: stale tickets,
expired tokens and sessions, the per-address cap on failed logins, and the password rehash."""
import random
import json
import os
import re
import subprocess
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest

from fcgi_client import DirectAppd, Response
from util import (TICKET_RE, TOKEN_RE, assert_session_cookie, masked, outbox_codes, parse_html, psql,
                  random_phone)

FORM = "application/x-www-form-urlencoded"


def fcgi(appd, method, path, body=b"", content_type="application/json", query="",
         headers=None, remote_addr="203.0.113.20"):
    """DirectAppd.request plus a query string and request headers (as HTTP_* parameters)."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    env = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "SCRIPT_NAME": path,
           "REQUEST_URI": path + ("?" + query if query else ""), "QUERY_STRING": query,
           "REMOTE_ADDR": remote_addr, "REQUEST_ID": "direct-login-test",
           "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1",
           "REQUEST_SCHEME": "https", "HTTPS": "on"}
    if content_type and body:
        env["CONTENT_TYPE"] = content_type
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    out = subprocess.run(["/usr/bin/cgi-fcgi", "-bind", "-connect", appd.socket],
                         input=body, env=env, capture_output=True, timeout=30)
    return Response(out.stdout)


def err(r):
    return r.status, r.json().get("error")


def register(appd, addr="203.0.113.21"):
    phone = random_phone()
    password = "pw-" + phone
    r = fcgi(appd, "POST", "/users/code", {"phone": phone}, remote_addr=addr)
    assert r.status == 200, r.body
    code = outbox_codes(phone)[-1]
    r = fcgi(appd, "POST", "/users/regist",
             {"phone": phone, "password": password, "code": code}, remote_addr=addr)
    assert r.status == 201, r.body
    return {"phone": phone, "password": password, "id": r.json()["data"]["user_id"]}


def login(appd, u, **kw):
    r = fcgi(appd, "POST", "/users/login", {"phone": u["phone"], "password": u["password"]}, **kw)
    assert r.status == 200, r.body
    return r.json()["data"]


def urlencode_form(u):
    return urlencode({"phone": u["phone"], "password": u["password"]}).encode()


def ticket_of(data):
    return parse_qs(urlsplit(data["home_url"]).query)["ticket"][0]


def assert_unauthorized_page(r):
    assert r.status == 401, (r.status, r.body[:500])
    assert r.headers["Content-Type"] == "text/html; charset=utf-8", r.headers
    assert "Set-Cookie" not in r.headers
    link = parse_html(r.body.decode("utf-8")).by_id.get("login-link")
    assert link is not None and link["tag"] == "a", r.body
    assert urljoin("https://h/users/home", link["attrs"].get("href", "")) == "https://h/users/login"


def stored_hash(phone):
    return psql("select password_hash from users where phone = '%s'" % phone)


@pytest.fixture(scope="module")
def short():
    """Tickets, tokens and sessions that live one second."""
    appd = DirectAppd(APPD_TICKET_TTL=1, APPD_TOKEN_TTL=1, APPD_SESSION_TTL=1,
                      APPD_CODE_RESEND=0)
    yield appd
    appd.close()


def test_short_lived_settings_reach_the_responses(short):
    u = register(short)
    data = login(short, u)
    assert data["expires_in"] == 1
    assert re.fullmatch(re.escape(os.environ["APPD_PUBLIC_URL"]) + r"/users/home\?ticket=" +
                        TICKET_RE, data["home_url"]), data["home_url"]
    r = fcgi(short, "POST", "/users/login", urlencode_form(u), content_type=FORM)
    assert r.status == 303, r.body
    assert_session_cookie(r.headers["Set-Cookie"], max_age=1)


def test_stale_ticket_is_401(short):
    u = register(short)
    # A fresh ticket works (so the refusal below is about age, not about this appd).
    fresh = login(short, u)
    r = fcgi(short, "GET", "/users/home", query="ticket=" + ticket_of(fresh))
    assert r.status == 303, r.body
    assert_session_cookie(r.headers["Set-Cookie"], max_age=1)
    stale = login(short, u)
    time.sleep(2.2)
    assert_unauthorized_page(fcgi(short, "GET", "/users/home", query="ticket=" + ticket_of(stale)))


def test_expired_token_is_401(short):
    u = register(short)
    data = login(short, u)
    auth = {"Authorization": "Bearer " + data["token"]}
    r = fcgi(short, "GET", "/users/me", headers=auth)
    assert r.status == 200, r.body
    time.sleep(2.2)
    r = fcgi(short, "GET", "/users/me", headers=auth)
    assert err(r) == (401, "unauthorized")
    assert_unauthorized_page(fcgi(short, "GET", "/users/home", headers=auth))
    r = fcgi(short, "POST", "/users/logout", headers=auth)
    assert err(r) == (401, "unauthorized")


def test_expired_session_is_401(short):
    u = register(short)
    r = fcgi(short, "POST", "/users/login", urlencode_form(u), content_type=FORM)
    assert r.status == 303, r.body
    sid = assert_session_cookie(r.headers["Set-Cookie"], max_age=1)
    cookie = {"Cookie": "__Host-sid=" + sid}
    r = fcgi(short, "GET", "/users/home", headers=cookie)
    assert r.status == 200, r.body
    assert masked(u["phone"]) in r.body.decode()
    time.sleep(2.2)
    assert_unauthorized_page(fcgi(short, "GET", "/users/home", headers=cookie))
    assert err(fcgi(short, "GET", "/users/me", headers=cookie)) == (401, "unauthorized")


def test_failed_logins_per_address_cap():
    appd = DirectAppd(APPD_LOGIN_ADDR_MAX=3, APPD_CODE_RESEND=0)
    try:
        u = register(appd, addr="198.51.100.30")
        # An address no other test uses (the database lives for the whole run).
        addr = "2001:db8::%x" % random.getrandbits(48)
        # Three failures on three different phones: no phone is anywhere near its own lock.
        for _ in range(3):
            r = fcgi(appd, "POST", "/users/login",
                     {"phone": random_phone(), "password": "not-the-password"}, remote_addr=addr)
            assert err(r) == (401, "bad_credentials")
        # The address is capped now: even a correct login from it is refused.
        body = {"phone": u["phone"], "password": u["password"]}
        r = fcgi(appd, "POST", "/users/login", body, remote_addr=addr)
        assert err(r) == (429, "too_many_attempts")
        assert 1 <= int(r.headers["Retry-After"]) <= 900
        # Another address is not affected, and neither is the user's phone.
        r = fcgi(appd, "POST", "/users/login", body, remote_addr="198.51.100.31")
        assert r.status == 200, r.body
    finally:
        appd.close()


def test_cheap_hash_is_upgraded_on_login():
    old = DirectAppd(APPD_PWHASH_OPSLIMIT=1, APPD_PWHASH_MEMLIMIT_KIB=8192, APPD_CODE_RESEND=0)
    try:
        u = register(old, addr="198.51.100.32")
    finally:
        old.close()
    before = stored_hash(u["phone"])
    assert before.startswith("$argon2id$") and "t=1" in before and "m=8192" in before, before

    new = DirectAppd(APPD_PWHASH_OPSLIMIT=2, APPD_PWHASH_MEMLIMIT_KIB=8192)
    try:
        # A wrong password upgrades nothing.
        r = fcgi(new, "POST", "/users/login", {"phone": u["phone"], "password": "wrong-one-1"})
        assert err(r) == (401, "bad_credentials")
        assert stored_hash(u["phone"]) == before
        data = login(new, u)
        assert data["user"] == {"id": u["id"], "phone": masked(u["phone"])}
        after = stored_hash(u["phone"])
        assert after.startswith("$argon2id$") and "t=2" in after and "m=8192" in after, after
        # Up to date now: the next login leaves it alone, and it still verifies.
        login(new, u)
        assert stored_hash(u["phone"]) == after
    finally:
        new.close()


def test_cheap_hash_is_upgraded_on_login_through_nginx(http, base_url):
    """The stack runs the default cost (t=2, 64 MiB): a cheaper hash is raised to it."""
    old = DirectAppd(APPD_PWHASH_OPSLIMIT=1, APPD_PWHASH_MEMLIMIT_KIB=8192, APPD_CODE_RESEND=0)
    try:
        u = register(old, addr="198.51.100.33")
    finally:
        old.close()
    assert "t=1" in stored_hash(u["phone"])
    r = http.post(base_url + "/users/login", json={"phone": u["phone"], "password": u["password"]})
    assert r.status_code == 200, r.text
    after = stored_hash(u["phone"])
    assert "t=2" in after and "m=65536" in after, after


def test_a_ticket_opens_the_page_wherever_the_secret_key_is_the_same(http, base_url):
    """A ticket is signed, not stored: one made by another appd (another host) with the
    stack's APPD_SECRET_KEY opens the page through Nginx, once; one made under another key
    does not, and costs no database write."""
    same = DirectAppd(APPD_CODE_RESEND=0)
    other = DirectAppd(APPD_CODE_RESEND=0, APPD_SECRET_KEY="ab" * 32)
    try:
        u = register(same, addr="198.51.100.35")
        good, foreign = ticket_of(login(same, u)), ticket_of(login(other, u))
    finally:
        same.close()
        other.close()
    spent = psql("select count(*) from tickets")
    r = http.get(base_url + "/users/home", params={"ticket": foreign}, allow_redirects=False)
    assert r.status_code == 401, r.text
    assert psql("select count(*) from tickets") == spent
    r = http.get(base_url + "/users/home", params={"ticket": good}, allow_redirects=False)
    assert r.status_code == 303, r.text
    assert int(psql("select count(*) from tickets")) == int(spent) + 1
    r = http.get(base_url + "/users/home", params={"ticket": good}, allow_redirects=False)
    assert r.status_code == 401, r.text


@pytest.mark.skipif(os.environ["APPD_DATABASE_URL"].startswith(("mysql://", "mariadb://")),
                    reason="asynchronous commit is PostgreSQL's (MariaDB keeps its own setting)")
def test_session_sync_commit_flushes_every_login():
    """APPD_SESSION_SYNC_COMMIT=1: every login's commit waits for the WAL flush, so the
    server's WAL syncs grow by at least one per sequential login. Unset, logins commit
    asynchronously and the WAL writer flushes many of them at once. (A backend reports
    its WAL statistics when it exits, so each appd is closed before they are read.)"""
    def wal_syncs():
        return int(psql("select wal_sync from pg_stat_wal"))

    n = 30
    deltas = {}
    for sync in (1, 0):
        appd = DirectAppd(APPD_SESSION_SYNC_COMMIT=sync, APPD_PWHASH_OPSLIMIT=1,
                          APPD_PWHASH_MEMLIMIT_KIB=8, APPD_CODE_RESEND=0)
        try:
            u = register(appd)
            before = wal_syncs()
            for _ in range(n):
                assert re.fullmatch(TOKEN_RE, login(appd, u)["token"])
        finally:
            appd.close()
        time.sleep(0.5)     # the workers' backends exit after appd's workers
        deltas[sync] = wal_syncs() - before
    assert deltas[1] >= n, deltas
    assert deltas[0] < n, deltas
