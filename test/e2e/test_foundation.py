"""The foundation through the real stack: envelope, routing, Nginx edges, database outage, worker death."""
import os
import socket
import subprocess
import time

import requests

from util import assert_envelope_error, assert_envelope_ok, wait_for


def test_healthz_answers_the_exact_contract_body(http, base_url):
    r = http.get(base_url + "/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.content == b'{"code":0,"msg":"ok","data":{"db":"ok"}}'


def test_head_healthz_has_no_body(http, base_url):
    r = http.head(base_url + "/healthz")
    assert r.status_code == 200
    assert r.content == b""


def test_every_response_carries_request_id_and_security_headers(http, base_url):
    for path in ("/healthz", "/nope", "/users/nope", "/static/missing.css"):
        r = http.get(base_url + path)
        assert len(r.headers.get("X-Request-Id", "")) >= 16, path
        assert r.headers["Strict-Transport-Security"].startswith("max-age=63072000"), path
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert "nginx/" not in r.headers.get("Server", ""), path
        assert "X-Powered-By" not in r.headers, path


def test_request_id_reaches_the_app_log(http, base_url, stack):
    r = http.get(base_url + "/healthz")
    rid = r.headers["X-Request-Id"]

    def logged():
        return [line for line in stack.log_lines() if line.get("rid") == rid]

    lines = wait_for(logged, timeout=5)
    assert lines, "request id not in appd's log"
    req = [line for line in lines if line.get("event") == "request"]
    assert req and req[0]["path"] == "/healthz" and req[0]["status"] == 200
    assert req[0]["method"] == "GET" and isinstance(req[0]["ms"], (int, float))


def test_query_strings_never_reach_the_app_log(http, base_url, stack):
    http.get(base_url + "/healthz?ticket=SECRETTICKET123")
    time.sleep(0.2)
    assert "SECRETTICKET123" not in stack.log_text()


def test_plain_http_redirects_to_https(http_url, base_url):
    r = requests.get(http_url + "/users/me?x=1", allow_redirects=False, timeout=5)
    assert r.status_code == 301
    assert r.headers["Location"] == base_url + "/users/me?x=1"


def test_http2_is_offered(base_url):
    out = subprocess.run(["curl", "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_version}",
                          base_url + "/healthz"], capture_output=True, text=True, timeout=10)
    assert out.stdout == "2"


def test_unknown_paths_are_404_envelopes(http, base_url):
    for path in ("/nope", "/", "/users/nope", "/users/", "/healthz/", "/HEALTHZ"):
        assert_envelope_error(http.get(base_url + path), 404, "not_found")


def test_wrong_method_is_405_with_allow(http, base_url):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = http.request(method, base_url + "/healthz")
        assert_envelope_error(r, 405, "method_not_allowed")
        assert r.headers["Allow"] == "GET, HEAD"


def test_missing_static_file_is_an_honest_404(http, base_url):
    for path in ("/static/missing.js", "/images/ab/cd/nothing.jpg"):
        r = http.get(base_url + path)
        assert_envelope_error(r, 404, "not_found")


def test_body_over_nginx_limit_is_a_413_envelope(http, base_url):
    r = http.post(base_url + "/users/regist", data=b"x" * (11 * 1024 * 1024),
                  headers={"Content-Type": "application/json"})
    assert_envelope_error(r, 413, "payload_too_large")


def test_metrics_is_loopback_only_in_nginx(stack):
    conf = open(os.path.join(stack.dir, "nginx", "nginx.conf")).read()
    assert "allow 127.0.0.1;" in conf and "deny all;" in conf


def test_database_outage_is_503_then_recovers_without_restart(http, base_url, stack):
    manager = stack.manager_pid()
    workers = stack.worker_pids()
    assert_envelope_ok(http.get(base_url + "/healthz"))
    stack.script("db-stop")
    try:
        for _ in range(2 * len(workers) + 2):
            t0 = time.monotonic()
            r = http.get(base_url + "/healthz", timeout=10)
            assert time.monotonic() - t0 < 3, "503 must be fast, not a hang"
            assert_envelope_error(r, 503, "unavailable")
    finally:
        stack.script("db-start")

    def healthy():
        # Every worker must recover: ask more times than there are workers.
        return all(http.get(base_url + "/healthz").status_code == 200
                   for _ in range(2 * len(workers) + 2))

    assert wait_for(healthy, timeout=15, interval=0.3)
    assert stack.manager_pid() == manager
    assert stack.worker_pids() == workers, "workers must reconnect, not be restarted"


def test_killed_worker_is_respawned_and_pool_keeps_answering(http, base_url, stack):
    before = stack.worker_pids()
    assert len(before) >= 2
    victim = before[0]
    os.kill(victim, 9)
    for _ in range(20):
        assert_envelope_ok(http.get(base_url + "/healthz"))

    def replaced():
        now = stack.worker_pids()
        return len(now) == len(before) and victim not in now

    assert wait_for(replaced, timeout=10)


def test_second_instance_on_a_live_socket_is_refused(stack):
    env = dict(os.environ, APPD_LOG_FILE="")
    out = subprocess.run([os.environ["APPD_BIN"]], env=env, capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
    assert "already in use" in out.stderr
    # The live server still answers on its socket.
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.environ["APPD_SOCKET"])
    s.close()


def test_secret_key_never_reaches_a_log(stack):
    key = os.environ["APPD_SECRET_KEY"]
    assert len(key) == 64
    logdir = os.path.join(stack.dir, "log")
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name), "rb") as f:
            assert key.encode() not in f.read(), name


def test_log_is_one_json_object_per_line(stack):
    lines = stack.log_lines()
    assert lines
    for line in lines:
        assert {"ts", "level", "pid", "rid"} <= set(line)
