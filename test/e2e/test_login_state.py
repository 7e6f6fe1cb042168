"""Scenario 3, what a login leaves in the database: the `sessions`, `tickets` and
`login_failures` rows that POST /users/login adds or deletes, whether it answers 200, 303,
401 or 429, when logins race, and when they are the first requests after the database server
restarted. Rows are counted per user (or per phone) with psql(), on either backend.
A home-page ticket is signed, not stored: `tickets` gains a row only when one is spent.

Every failed login through Nginx comes from 127.0.0.1; scripts/e2e lifts the per-address cap
on the shared stack, and the cap itself is exercised on a second appd (as in
test_login_fcgi.py). The restart tests come last and leave the database up and every worker
connected again (test_upload_faults.restart_db_and_wait).
"""
import concurrent.futures
import random
import threading

import pytest

from fcgi_client import DirectAppd
from test_upload_faults import restart_db_and_wait, settle
from util import (assert_envelope_error, assert_envelope_ok, login, metric_samples,
                  no_cookie_session, parse_metrics, psql, random_phone, register_user, wait_for)


@pytest.fixture
def user(s, base_url):
    """A fresh user of its own."""
    return register_user(s, base_url)


def json_login(s, base_url, phone, password):
    return s.post(base_url + "/users/login", json={"phone": phone, "password": password},
                  allow_redirects=False, timeout=60)


def form_login(s, base_url, phone, password):
    return s.post(base_url + "/users/login", data={"phone": phone, "password": password},
                  allow_redirects=False, timeout=60)


def me(s, base_url, token):
    return s.get(base_url + "/users/me", headers={"Authorization": "Bearer " + token})


def snapshot(uid):
    """Every `sessions` row ("md5 of token_hash|kind|revoked_at") and `tickets` row
    ("id|used_at") of user uid, oldest first."""
    sessions = psql("select md5(token_hash), kind, revoked_at from sessions where user_id = %d"
                    " order by created_at, 1" % uid)
    tickets = psql("select id, used_at from tickets where user_id = %d order by id" % uid)
    return sessions.splitlines(), tickets.splitlines()


def new_rows(before, uid):
    """What uid gained since snapshot(uid) gave before: (the new sessions' kinds, sorted;
    the number of new tickets). Rows that were there before must still be, unchanged."""
    sessions, tickets = snapshot(uid)
    assert set(before[0]) <= set(sessions), (before[0], sessions)
    assert set(before[1]) <= set(tickets), (before[1], tickets)
    return (sorted(r.split("|")[1] for r in set(sessions) - set(before[0])),
            len(set(tickets) - set(before[1])))


def failures(phone):
    """The phone's rows in login_failures."""
    return int(psql("select count(*) from login_failures where phone = '%s'" % phone))


def fail_logins(s, base_url, phone, n):
    for i in range(n):
        r = json_login(s, base_url, phone, "wrong-password-%d" % i)
        assert_envelope_error(r, 401, "bad_credentials")


def in_parallel(fn, args):
    """fn(arg) for every arg at once, each in a thread with a session of its own, all
    released together; the answers in the order of args."""
    barrier = threading.Barrier(len(args))

    def one(arg):
        sess = no_cookie_session()
        try:
            barrier.wait(timeout=30)
            return fn(sess, arg)
        finally:
            sess.close()

    with concurrent.futures.ThreadPoolExecutor(len(args)) as ex:
        return list(ex.map(one, args))


# ---------------------------------------------------------------- failures add no sign-in rows

@pytest.mark.parametrize("via", ["json", "form"])
def test_wrong_password_leaves_sessions_and_tickets_alone(s, base_url, user, via):
    """A wrong password adds no session and no ticket (and removes or revokes none the user
    already has), and records exactly one failure."""
    data = login(s, base_url, user["phone"], user["password"])
    token = data["token"]
    assert s.get(data["home_url"], allow_redirects=False).status_code == 303
    assert form_login(s, base_url, user["phone"], user["password"]).status_code == 303
    before = snapshot(user["id"])
    assert len(before[0]) == 3 and len(before[1]) == 1, before
    do_login = json_login if via == "json" else form_login
    r = do_login(s, base_url, user["phone"], user["password"] + "-wrong")
    assert_envelope_error(r, 401, "bad_credentials")
    assert snapshot(user["id"]) == before
    assert failures(user["phone"]) == 1
    assert assert_envelope_ok(me(s, base_url, token))["id"] == user["id"]


def test_locked_phone_adds_no_session_or_ticket(s, base_url, user):
    fail_logins(s, base_url, user["phone"], 5)
    before = snapshot(user["id"])
    assert_envelope_error(json_login(s, base_url, user["phone"], user["password"]), 429,
                          "too_many_attempts")
    assert_envelope_error(form_login(s, base_url, user["phone"], user["password"]), 429,
                          "too_many_attempts")
    assert snapshot(user["id"]) == before
    # A refused attempt is not a failure of its own: the lock is not extended.
    assert failures(user["phone"]) == 5


def test_capped_address_adds_no_session_or_ticket(s, base_url, user):
    """The per-address cap, on a second appd with APPD_LOGIN_ADDR_MAX=3: the right password
    from the capped address is refused and adds nothing; from another address it adds one
    session."""
    appd = DirectAppd(APPD_LOGIN_ADDR_MAX=3)
    try:
        addr = "2001:db8::%x" % random.getrandbits(48)      # no other test uses it
        for _ in range(3):
            r = appd.request("POST", "/users/login",
                             {"phone": random_phone(), "password": "not-the-password"},
                             remote_addr=addr)
            assert r.status == 401, r.body
        body = {"phone": user["phone"], "password": user["password"]}
        before = snapshot(user["id"])
        r = appd.request("POST", "/users/login", body, remote_addr=addr)
        assert (r.status, r.json()["error"]) == (429, "too_many_attempts"), r.body
        assert snapshot(user["id"]) == before
        assert failures(user["phone"]) == 0
        r = appd.request("POST", "/users/login", body, remote_addr="198.51.100.34")
        assert r.status == 200, r.body
        assert new_rows(before, user["id"]) == (["bearer"], 0)
    finally:
        appd.close()


# ---------------------------------------------------------------- successes add exactly their rows

def test_json_login_adds_one_bearer_session_and_its_ticket_only_when_spent(s, base_url, user):
    before = snapshot(user["id"])
    data = login(s, base_url, user["phone"], user["password"])
    assert new_rows(before, user["id"]) == (["bearer"], 0)
    assert assert_envelope_ok(me(s, base_url, data["token"]))["id"] == user["id"]
    # Spent: now it is stored (its hash), with the cookie session it opened.
    assert s.get(data["home_url"], allow_redirects=False).status_code == 303
    assert new_rows(before, user["id"]) == (["bearer", "cookie"], 1)


def test_form_login_adds_one_cookie_session_and_no_ticket(s, base_url, user):
    before = snapshot(user["id"])
    r = form_login(s, base_url, user["phone"], user["password"])
    assert r.status_code == 303, r.text
    assert new_rows(before, user["id"]) == (["cookie"], 0)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_success_deletes_its_phones_failures_and_no_others(s, base_url, user, n):
    bystander = random_phone()
    fail_logins(s, base_url, bystander, 2)
    fail_logins(s, base_url, user["phone"], n)
    assert failures(user["phone"]) == n
    login(s, base_url, user["phone"], user["password"])
    assert failures(user["phone"]) == 0
    assert failures(bystander) == 2


def test_deleting_a_user_deletes_their_sessions_and_no_others(s, base_url, user):
    """A user deleted in SQL (an operator's act; the API deletes no one) takes their bearer and
    cookie sessions and spent tickets along: on PostgreSQL a trigger on users does it (sessions
    have no foreign key since migration 0007), on MariaDB the foreign key's ON DELETE CASCADE.
    Another user's sessions stay and keep working."""
    other = register_user(s, base_url)
    kept = login(s, base_url, other["phone"], other["password"])["token"]
    data = login(s, base_url, user["phone"], user["password"])
    assert s.get(data["home_url"], allow_redirects=False).status_code == 303
    assert form_login(s, base_url, user["phone"], user["password"]).status_code == 303
    sessions, tickets = snapshot(user["id"])
    assert len(sessions) == 3 and len(tickets) == 1, (sessions, tickets)
    others = snapshot(other["id"])
    psql("delete from users where id = %d" % user["id"])
    assert snapshot(user["id"]) == ([], [])
    assert_envelope_error(me(s, base_url, data["token"]), 401, "unauthorized")
    assert snapshot(other["id"]) == others
    assert assert_envelope_ok(me(s, base_url, kept))["id"] == other["id"]


# ---------------------------------------------------------------- races

def test_racing_wrong_and_right_passwords_open_sessions_only_for_successes(base_url, user):
    """One right and eight wrong passwords at once: the right one answers 200, or 429 when
    five failures were recorded first; the user gains a session for a 200 and nothing
    otherwise."""
    before = snapshot(user["id"])
    passwords = [user["password"]] + ["wrong-password-%d" % i for i in range(8)]
    right, *wrong = in_parallel(lambda sess, pw: json_login(sess, base_url, user["phone"], pw),
                                passwords)
    assert right.status_code in (200, 429), right.text
    assert {r.status_code for r in wrong} <= {401, 429}, [(r.status_code, r.text) for r in wrong]
    ok = int(right.status_code == 200)
    assert new_rows(before, user["id"]) == (["bearer"] * ok, 0)
    if not ok:
        assert failures(user["phone"]) == sum(r.status_code == 401 for r in wrong)


# ---------------------------------------------------------------- the database server restarts
# These restart the stack's database and so stay at the end of the file.

def db_answers():
    try:
        return psql("select 1") == "1"
    except AssertionError:
        return False


def restart_db(stack, how):
    """db-stop (a clean, fast shutdown) or db-kill (a crash), then db-start; returns once
    the database answers, without a single request to appd (every worker keeps its dead
    connection until its next request)."""
    stack.script(how)
    stack.script("db-start")
    assert wait_for(db_answers, timeout=60, interval=0.25), "the database did not come back"


def worker_pids(s, base_url):
    """The workers' pids, from /metrics (the manager's other child, the metrics process, has
    no database connection)."""
    r = s.get(base_url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    return sorted({int(lb["pid"]) for lb, _ in
                   metric_samples(parse_metrics(r.text), "appd_worker_state")})


def first_requests(stack, mark):
    """{worker pid: its first request log line} among appd's log lines from index mark on."""
    first = {}
    for line in stack.log_lines()[mark:]:
        if line.get("event") == "request":
            first.setdefault(line["pid"], line)
    return first


def assert_each_worker_began_with_a_login(stack, workers, mark, status):
    first = first_requests(stack, mark)
    assert set(workers) <= set(first), (workers, first)
    for pid in workers:
        assert (first[pid]["path"], first[pid]["status"]) == ("/users/login", status), first[pid]


@pytest.mark.parametrize("how", ["db-stop", "db-kill"])
def test_first_logins_after_a_database_restart_succeed(stack, s, base_url, user, how):
    """Every worker held a connection that died with the server; the first request each
    worker gets afterwards is a login, and all of them answer 200 with their rows."""
    settle(base_url)                # every worker is connected now
    workers = worker_pids(s, base_url)
    assert len(workers) >= 2, workers
    mark = len(stack.log_lines())
    try:
        restart_db(stack, how)
        before = snapshot(user["id"])
        answers = in_parallel(
            lambda sess, _: json_login(sess, base_url, user["phone"], user["password"]),
            range(8))
    finally:
        restart_db_and_wait(stack, s, base_url)
    assert [r.status_code for r in answers] == [200] * 8, \
        [(r.status_code, r.text[:200]) for r in answers]
    assert new_rows(before, user["id"]) == (["bearer"] * 8, 0)
    assert worker_pids(s, base_url) == workers
    assert_each_worker_began_with_a_login(stack, workers, mark, 200)


def test_first_wrong_passwords_after_a_database_restart_add_nothing(stack, s, base_url):
    """As above with wrong passwords (four for each of two users, one short of the phone
    lock): all 401, four failures recorded per phone, and no session or ticket left behind."""
    users = [register_user(s, base_url) for _ in range(2)]
    for u in users:
        login(s, base_url, u["phone"], u["password"])
    settle(base_url)
    workers = worker_pids(s, base_url)
    assert len(workers) >= 2, workers
    mark = len(stack.log_lines())
    try:
        restart_db(stack, "db-kill")
        before = [snapshot(u["id"]) for u in users]
        answers = in_parallel(
            lambda sess, u: json_login(sess, base_url, u["phone"], u["password"] + "-wrong"),
            users * 4)
    finally:
        restart_db_and_wait(stack, s, base_url)
    for r in answers:
        assert_envelope_error(r, 401, "bad_credentials")
    for u, b in zip(users, before):
        assert snapshot(u["id"]) == b
        assert failures(u["phone"]) == 4
    assert_each_worker_began_with_a_login(stack, workers, mark, 401)
