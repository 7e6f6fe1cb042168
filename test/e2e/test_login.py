"""Scenario 3 through Nginx: login, lockouts, tokens, the one-time ticket, the H5 session cookie,
the H5 pages (/users/home, /users/login), /users/me and /users/logout.

Every failed login here comes from 127.0.0.1 and counts against the per-address cap
(APPD_LOGIN_ADDR_MAX, 100 per 15 minutes): the whole file stays well under it (about 40).
"""
import base64
import concurrent.futures
import datetime
import os
import re
import statistics
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from util import (ISO_UTC_RE, TICKET_RE, TOKEN_RE, assert_envelope_error, assert_envelope_ok,
                  assert_html_page, assert_session_cookie, db_dump, flip_char, login, masked,
                  no_cookie_session, psql, random_phone, register_user, set_cookies, sql_epoch)

HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def shared(base_url):
    """One user for the tests that neither lock its phone nor depend on its visit count."""
    session = no_cookie_session()
    try:
        return register_user(session, base_url)
    finally:
        session.close()


@pytest.fixture
def user(s, base_url):
    """A fresh user of its own."""
    return register_user(s, base_url)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def cookie(sid):
    return {"Cookie": "__Host-sid=" + sid}


def home(s, base_url, headers=None, query=""):
    return s.get(base_url + "/users/home" + query, headers=headers or {}, allow_redirects=False)


def me(s, base_url, headers=None):
    return s.get(base_url + "/users/me", headers=headers or {}, allow_redirects=False)


def logout(s, base_url, headers=None):
    return s.post(base_url + "/users/logout", headers=headers or {}, allow_redirects=False)


def form_login(s, base_url, phone, password, accept=None):
    headers = {"Accept": accept} if accept else {}
    return s.post(base_url + "/users/login", data={"phone": phone, "password": password},
                  headers=headers, allow_redirects=False)


def json_login(s, base_url, phone, password):
    return s.post(base_url + "/users/login", json={"phone": phone, "password": password},
                  allow_redirects=False)


def assert_redirects_home(resp, base_url):
    assert resp.status_code == 303, (resp.status_code, resp.text[:500])
    location = resp.headers["Location"]
    assert location.endswith("/users/home"), location
    assert urljoin(base_url + "/users/login", location) == base_url + "/users/home", location


def session_cookie_of(resp):
    cookies = set_cookies(resp)
    assert len(cookies) == 1, cookies
    return assert_session_cookie(cookies[0])


def cookie_session(s, base_url, u):
    """Log u in with the H5 form; returns the session cookie's value."""
    r = form_login(s, base_url, u["phone"], u["password"])
    assert_redirects_home(r, base_url)
    return session_cookie_of(r)


def assert_login_link(page, base_url):
    el = page.by_id.get("login-link")
    assert el is not None, "no id=login-link"
    assert el["tag"] == "a", el
    assert urljoin(base_url + "/users/home", el["attrs"].get("href", "")) == base_url + "/users/login", el


def assert_unauthorized_page(resp, base_url):
    page = assert_html_page(resp, 401)
    assert_login_link(page, base_url)
    assert set_cookies(resp) == []
    return page


def visits_on(page):
    m = re.fullmatch(r"\D*?(\d+)\D*", page.text("visits"))
    assert m, "id=visits holds no single count: %r" % page.text("visits")
    return int(m.group(1))


def parse_iso(value):
    assert isinstance(value, str) and re.fullmatch(ISO_UTC_RE, value), value
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def assert_recent(value, slack=300):
    t = parse_iso(value)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - t).total_seconds()) < slack, (value, now)
    return t


# ---------------------------------------------------------------- POST /users/login (JSON)

def test_json_login_shape(s, base_url, shared):
    r = json_login(s, base_url, shared["phone"], shared["password"])
    data = assert_envelope_ok(r)
    assert set(data) == {"token", "token_type", "expires_in", "user", "home_url"}, data
    assert re.fullmatch(TOKEN_RE, data["token"]), data["token"]
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 604800
    assert data["user"] == {"id": shared["id"], "phone": masked(shared["phone"])}
    assert type(data["user"]["id"]) is int
    assert re.fullmatch(re.escape(base_url) + r"/users/home\?ticket=" + TICKET_RE,
                        data["home_url"]), data["home_url"]
    assert shared["password"] not in r.text
    # The token works at once.
    assert assert_envelope_ok(me(s, base_url, bearer(data["token"])))["id"] == shared["id"]


def test_two_logins_give_different_tokens_and_tickets(s, base_url, shared):
    a = login(s, base_url, shared["phone"], shared["password"])
    b = login(s, base_url, shared["phone"], shared["password"])
    assert a["token"] != b["token"]
    assert a["home_url"] != b["home_url"]
    ticket_a = parse_qs(urlsplit(a["home_url"]).query)["ticket"][0]
    assert ticket_a != a["token"] and ticket_a != b["token"]
    for d in (a, b):
        assert assert_envelope_ok(me(s, base_url, bearer(d["token"])))["id"] == shared["id"]


def test_missing_or_non_string_fields(s, base_url, shared):
    p, pw = shared["phone"], shared["password"]
    for body in ({}, {"phone": p}, {"password": pw}, {"phone": int(p), "password": pw},
                 {"phone": p, "password": 12345678}, {"phone": None, "password": pw},
                 {"phone": p, "password": [pw]}, {"phone": {"p": p}, "password": pw}):
        assert_envelope_error(s.post(base_url + "/users/login", json=body), 400, "missing_field")
    r = s.post(base_url + "/users/login", data={"phone": p})
    assert_envelope_error(r, 400, "missing_field")


def test_bad_bodies_are_invalid_json(s, base_url):
    for body in (b"garbage", b"[]", b'{"phone": "188', b"null"):
        r = s.post(base_url + "/users/login", data=body,
                   headers={"Content-Type": "application/json"})
        assert_envelope_error(r, 400, "invalid_json")


def test_invalid_phones(s, base_url):
    for phone in ("1886666888", "188666688889", "28866668888", "18866668888\n",
                  " 18866668888", "+8618866668888", "１8866668888", ""):
        r = s.post(base_url + "/users/login", json={"phone": phone, "password": "demo123456"})
        assert_envelope_error(r, 400, "invalid_phone")


def test_bad_credentials_never_say_which(s, base_url, user):
    wrong = json_login(s, base_url, user["phone"], user["password"] + "-wrong")
    unknown = json_login(s, base_url, random_phone(), user["password"])
    a = assert_envelope_error(wrong, 401, "bad_credentials")
    b = assert_envelope_error(unknown, 401, "bad_credentials")
    assert a == b
    assert set_cookies(wrong) == [] and set_cookies(unknown) == []


def test_five_failures_lock_the_phone(s, base_url, user, shared):
    for i in range(5):
        r = json_login(s, base_url, user["phone"], "wrong-password-%d" % i)
        assert_envelope_error(r, 401, "bad_credentials")
    # Locked: even the right password is refused, in every form.
    r = json_login(s, base_url, user["phone"], user["password"])
    assert_envelope_error(r, 429, "too_many_attempts")
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    r = json_login(s, base_url, user["phone"], "wrong-password-x")
    assert_envelope_error(r, 429, "too_many_attempts")
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    r = form_login(s, base_url, user["phone"], user["password"])
    assert_envelope_error(r, 429, "too_many_attempts")
    assert set_cookies(r) == []
    r = form_login(s, base_url, user["phone"], user["password"], accept=HTML_ACCEPT)
    page = assert_html_page(r, 429)
    assert "error" in page.by_id
    assert 1 <= int(r.headers["Retry-After"]) <= 900
    assert set_cookies(r) == []
    # Only that phone: another user (same client address) still logs in.
    login(s, base_url, shared["phone"], shared["password"])


def test_unknown_phone_locks_like_a_known_one(s, base_url):
    phone = random_phone()
    for i in range(5):
        r = json_login(s, base_url, phone, "some-password-%d" % i)
        assert_envelope_error(r, 401, "bad_credentials")
    r = json_login(s, base_url, phone, "some-password-5")
    assert_envelope_error(r, 429, "too_many_attempts")
    assert 1 <= int(r.headers["Retry-After"]) <= 900


def test_success_before_the_lock_clears_the_failures(s, base_url, user):
    for round_ in range(2):
        for i in range(4):
            r = json_login(s, base_url, user["phone"], "wrong-%d-%d" % (round_, i))
            assert_envelope_error(r, 401, "bad_credentials")
        # 4 + 4 failures would lock at the 6th if the success had not cleared them.
        login(s, base_url, user["phone"], user["password"])


def test_unknown_phone_and_wrong_password_take_similar_time(s, base_url, user):
    """Both run argon2: an unknown phone must not answer measurably faster."""
    def timed(phone, password):
        t0 = time.perf_counter()
        r = json_login(s, base_url, phone, password)
        dt = time.perf_counter() - t0
        assert_envelope_error(r, 401, "bad_credentials")
        return dt

    s.get(base_url + "/healthz")   # the TLS handshake is not part of any sample
    unknown, wrong = [], []
    for i in range(5):             # 5 failures: the user is not locked (that takes a 6th)
        unknown.append(timed(random_phone(), user["password"]))
        wrong.append(timed(user["phone"], user["password"] + "-wrong-%d" % i))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 <= ratio <= 2.0, {"unknown": unknown, "wrong": wrong, "ratio": ratio}


# ---------------------------------------------------------------- POST /users/login (H5 form)

def test_form_login_redirects_with_a_session_cookie(s, base_url, shared):
    sids = []
    for accept in (None, HTML_ACCEPT):
        r = form_login(s, base_url, shared["phone"], shared["password"], accept=accept)
        assert_redirects_home(r, base_url)
        sids.append(session_cookie_of(r))
    assert sids[0] != sids[1]
    sid = sids[1]
    p1 = assert_html_page(home(s, base_url, cookie(sid)), 200, no_script=True)
    assert p1.text("phone") == masked(shared["phone"])
    # A browser sends its other cookies alongside.
    r = home(s, base_url, {"Cookie": "theme=dark; __Host-sid=%s; lang=zh" % sid})
    p2 = assert_html_page(r, 200, no_script=True)
    assert visits_on(p2) == visits_on(p1) + 1
    m = assert_envelope_ok(me(s, base_url, cookie(sid)))
    assert m["id"] == shared["id"] and m["visits"] == visits_on(p2)


def test_form_failure_for_a_browser_is_the_login_page_with_an_error(s, base_url, shared):
    secret = "pw<b>never-shown-7311</b>"
    r = form_login(s, base_url, shared["phone"], secret, accept=HTML_ACCEPT)
    page = assert_html_page(r, 401)
    assert page.text("error")
    assert page.find("form", id="login-form"), "the error page is the login page"
    assert "never-shown-7311" not in r.text
    assert set_cookies(r) == []


def test_form_failure_for_an_api_client_is_the_json_envelope(s, base_url, shared):
    for accept in ("application/json", None):   # requests sends */*
        r = form_login(s, base_url, shared["phone"], shared["password"] + "-wrong", accept=accept)
        assert_envelope_error(r, 401, "bad_credentials")
        assert set_cookies(r) == []


def test_form_errors_for_a_browser_escape_what_was_sent(s, base_url):
    evil = '"><script>alert(7311)</script>'
    r = form_login(s, base_url, evil, "whatever-123", accept=HTML_ACCEPT)
    page = assert_html_page(r, 400)
    assert page.text("error")
    assert "<script>alert(7311)" not in r.text
    r = s.post(base_url + "/users/login", data={"phone": random_phone()},
               headers={"Accept": HTML_ACCEPT}, allow_redirects=False)
    page = assert_html_page(r, 400)
    assert page.text("error")


# ---------------------------------------------------------------- GET /users/login

def test_login_page(s, base_url):
    r = s.get(base_url + "/users/login", headers={"Accept": HTML_ACCEPT}, allow_redirects=False)
    page = assert_html_page(r, 200)
    forms = page.find("form", id="login-form")
    assert len(forms) == 1, page.tags
    form = forms[0]
    assert form.get("method", "").lower() == "post", form
    assert urljoin(base_url + "/users/login", form.get("action", "")) == base_url + "/users/login"
    assert page.find("input", name="phone"), "no phone input"
    pw = page.find("input", name="password")
    assert pw and pw[0].get("type") == "password", pw
    assert "submit" in page.by_id


# ---------------------------------------------------------------- GET /users/home

def test_ticket_becomes_a_session_once(s, base_url, shared):
    data = login(s, base_url, shared["phone"], shared["password"])
    r = s.get(data["home_url"], allow_redirects=False)
    assert_redirects_home(r, base_url)
    sid = session_cookie_of(r)
    assert sid != data["token"]
    page = assert_html_page(home(s, base_url, cookie(sid)), 200, no_script=True)
    assert page.text("phone") == masked(shared["phone"])
    # Used once: the same ticket again is refused, and sets nothing.
    assert_unauthorized_page(s.get(data["home_url"], allow_redirects=False), base_url)
    # The first session is unaffected by the refused reuse.
    assert_html_page(home(s, base_url, cookie(sid)), 200)


def test_concurrent_redemptions_of_one_ticket_make_one_session(base_url, shared):
    """Single use under a race: of ten simultaneous redemptions of one ticket, one opens a
    session and nine are refused."""
    first = no_cookie_session()
    try:
        data = login(first, base_url, shared["phone"], shared["password"])
    finally:
        first.close()

    def redeem(_):
        sess = no_cookie_session()
        try:
            return sess.get(data["home_url"], allow_redirects=False, timeout=60)
        finally:
            sess.close()

    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        results = list(ex.map(redeem, range(10)))
    assert sorted(r.status_code for r in results) == [303] + [401] * 9, \
        [(r.status_code, r.text[:200]) for r in results]


def test_bad_tickets_are_401(s, base_url, shared):
    data = login(s, base_url, shared["phone"], shared["password"])
    ticket = parse_qs(urlsplit(data["home_url"]).query)["ticket"][0]
    for q in ("?ticket=garbage", "?ticket=", "?ticket=" + "A" * 43, "?ticket=" + "A" * 87,
              "?ticket=" + flip_char(ticket, 21), "?ticket=" + flip_char(ticket, 86),
              "?ticket=" + ticket[:-1], "?ticket=" + ticket + "A", "?ticket=" + data["token"],
              "?ticket=%3Cscript%3Ealert(7311)%3C/script%3E", "?ticket=" + "x" * 4000):
        r = home(s, base_url, query=q)
        assert_unauthorized_page(r, base_url)
        assert "<script>alert(7311)" not in r.text
    # None of that burnt the real ticket.
    assert_redirects_home(s.get(data["home_url"], allow_redirects=False), base_url)


def test_home_without_valid_credentials_is_401_with_a_login_link(s, base_url, shared):
    data = login(s, base_url, shared["phone"], shared["password"])
    sid = cookie_session(s, base_url, shared)
    assert_html_page(home(s, base_url, cookie(sid)), 200)
    assert_html_page(home(s, base_url, bearer(data["token"])), 200)
    for headers in ({}, cookie(flip_char(sid, len(sid) // 2)), cookie(flip_char(sid, 0)),
                    cookie(""), cookie("garbage"), {"Cookie": "sid=" + sid},
                    bearer(flip_char(data["token"], 21)), bearer("garbage"),
                    {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}):
        assert_unauthorized_page(home(s, base_url, headers), base_url)


def test_home_page_counts_visits_and_shows_the_last_one(s, base_url, user):
    data = login(s, base_url, user["phone"], user["password"])
    auth = bearer(data["token"])
    m0 = assert_envelope_ok(me(s, base_url, auth))
    assert m0["visits"] == 0 and m0["last_seen_at"] is None

    p1 = assert_html_page(home(s, base_url, auth), 200, no_script=True)
    assert p1.text("phone") == masked(user["phone"])
    assert visits_on(p1) == 1
    if "last-visit" in p1.by_id:     # a first visit has no previous one to show
        assert not re.search(r"\b(19|20)\d\d\b", p1.text("last-visit")), p1.text("last-visit")
    m1 = assert_envelope_ok(me(s, base_url, auth))
    assert m1["visits"] == 1
    seen1 = assert_recent(m1["last_seen_at"])
    assert seen1 >= parse_iso(m1["created_at"])

    p2 = assert_html_page(home(s, base_url, auth), 200, no_script=True)
    assert visits_on(p2) == 2
    el = p2.by_id.get("last-visit")
    assert el is not None, "no id=last-visit on a second visit"
    shown = [int(n) for n in re.findall(r"\d+", el["text"] + " " + " ".join(el["attrs"].values()))]
    want = [seen1.year, seen1.month, seen1.day, seen1.hour, seen1.minute]
    assert any(shown[i:i + 5] == want for i in range(len(shown))), (el, m1["last_seen_at"])

    m2 = assert_envelope_ok(me(s, base_url, auth))
    assert m2["visits"] == 2
    assert parse_iso(m2["last_seen_at"]) >= seen1
    # Recorded in the database, not just counted in a worker.
    row = psql("select visits, %s from users where id = %d"
               % (sql_epoch("last_seen_at"), user["id"]))
    visits, epoch = row.split("|")
    assert int(visits) == 2, row
    assert abs(float(epoch) - parse_iso(m2["last_seen_at"]).timestamp()) < 1, row


def test_concurrent_visits_are_each_counted_once(s, base_url, user):
    """Atomic visit counts: twelve simultaneous home-page visits see the counts 1 to 12, each
    once, and the count ends at 12."""
    auth = bearer(login(s, base_url, user["phone"], user["password"])["token"])

    def visit(_):
        sess = no_cookie_session()
        try:
            return home(sess, base_url, auth)
        finally:
            sess.close()

    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        pages = [assert_html_page(r, 200) for r in ex.map(visit, range(12))]
    assert sorted(visits_on(p) for p in pages) == list(range(1, 13))
    assert assert_envelope_ok(me(s, base_url, auth))["visits"] == 12


# ---------------------------------------------------------------- GET /users/me

def test_me_for_a_new_user(s, base_url, user):
    data = login(s, base_url, user["phone"], user["password"])
    m = assert_envelope_ok(me(s, base_url, bearer(data["token"])))
    assert set(m) == {"id", "phone", "created_at", "visits", "last_seen_at", "image_count"}, m
    assert m["id"] == user["id"] and type(m["id"]) is int
    assert m["phone"] == masked(user["phone"])
    assert_recent(m["created_at"])
    assert m["visits"] == 0 and type(m["visits"]) is int
    assert m["last_seen_at"] is None
    assert m["image_count"] == 0 and type(m["image_count"]) is int
    # The same through the H5 session cookie.
    sid = cookie_session(s, base_url, user)
    assert assert_envelope_ok(me(s, base_url, cookie(sid))) == m


def test_me_without_valid_credentials_is_401(s, base_url, shared):
    data = login(s, base_url, shared["phone"], shared["password"])
    sid = cookie_session(s, base_url, shared)
    for headers in ({}, bearer("garbage"), bearer(flip_char(data["token"], 21)),
                    bearer(flip_char(data["token"], 0)), {"Authorization": "Bearer"},
                    {"Authorization": "Bearer " + data["token"] + "x"},
                    {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
                    cookie(flip_char(sid, len(sid) // 2)), cookie("garbage")):
        assert_envelope_error(me(s, base_url, headers), 401, "unauthorized")


# ---------------------------------------------------------------- POST /users/logout

def test_logout_revokes_only_the_presented_token(s, base_url, shared):
    a = login(s, base_url, shared["phone"], shared["password"])
    b = login(s, base_url, shared["phone"], shared["password"])
    assert assert_envelope_ok(logout(s, base_url, bearer(a["token"]))) == {}
    assert_envelope_error(me(s, base_url, bearer(a["token"])), 401, "unauthorized")
    assert_envelope_error(logout(s, base_url, bearer(a["token"])), 401, "unauthorized")
    assert_unauthorized_page(home(s, base_url, bearer(a["token"])), base_url)
    assert assert_envelope_ok(me(s, base_url, bearer(b["token"])))["id"] == shared["id"]


def test_logout_without_credentials_is_401(s, base_url):
    assert_envelope_error(logout(s, base_url), 401, "unauthorized")
    assert_envelope_error(logout(s, base_url, bearer("garbage")), 401, "unauthorized")


def test_cookie_logout_ends_the_session(s, base_url, shared):
    sid = cookie_session(s, base_url, shared)
    other = cookie_session(s, base_url, shared)
    headers = dict(cookie(sid), Origin=base_url)
    assert assert_envelope_ok(logout(s, base_url, headers)) == {}
    assert_unauthorized_page(home(s, base_url, cookie(sid)), base_url)
    assert_envelope_error(me(s, base_url, cookie(sid)), 401, "unauthorized")
    assert_envelope_error(logout(s, base_url, headers), 401, "unauthorized")
    assert_html_page(home(s, base_url, cookie(other)), 200)


def test_cross_origin_cookie_logout_is_forbidden(s, base_url, shared):
    sid = cookie_session(s, base_url, shared)
    for origin in ("https://evil.example", base_url.replace("https://", "http://", 1)):
        r = logout(s, base_url, dict(cookie(sid), Origin=origin))
        assert_envelope_error(r, 403, "forbidden")
        # Refused, not performed: the session still works.
        assert_html_page(home(s, base_url, cookie(sid)), 200)
    assert assert_envelope_ok(logout(s, base_url, dict(cookie(sid), Origin=base_url))) == {}
    assert_unauthorized_page(home(s, base_url, cookie(sid)), base_url)


# ---------------------------------------------------------------- secrets stay secret

def test_secrets_are_neither_logged_nor_stored_in_clear(s, base_url, stack, user):
    wrong = "Wrong-Zebra-" + user["phone"]
    assert_envelope_error(json_login(s, base_url, user["phone"], wrong), 401, "bad_credentials")
    data = login(s, base_url, user["phone"], user["password"])
    ticket = parse_qs(urlsplit(data["home_url"]).query)["ticket"][0]
    r = s.get(data["home_url"], allow_redirects=False)
    assert_redirects_home(r, base_url)
    sid_from_ticket = session_cookie_of(r)
    sid_from_form = cookie_session(s, base_url, user)
    assert_html_page(home(s, base_url, cookie(sid_from_form)), 200)
    assert_html_page(home(s, base_url, bearer(data["token"])), 200)
    time.sleep(0.3)

    secrets = {"password": user["password"], "wrong password": wrong, "token": data["token"],
               "ticket": ticket, "session (ticket)": sid_from_ticket,
               "session (form)": sid_from_form}
    logdir = os.path.join(stack.dir, "log")
    for name in os.listdir(logdir):
        if name == "sms.jsonl" or not os.path.isfile(os.path.join(logdir, name)):
            continue
        with open(os.path.join(logdir, name), "rb") as f:
            text = f.read()
        for what, value in secrets.items():
            assert value.encode() not in text, "%s in log %s" % (what, name)

    dump = db_dump()
    assert user["phone"].encode() in dump       # the dump is the right database
    for what, value in secrets.items():
        assert value.encode() not in dump, "%s stored in clear" % what
    for what in ("token", "ticket"):
        raw = base64.urlsafe_b64decode(secrets[what] + "=")
        assert raw.hex().encode() not in dump, "%s stored in clear (bytea)" % what
        assert raw not in dump, "%s stored in clear (binary)" % what
